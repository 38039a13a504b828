//! `idv-local`: the event plumbing of the local stack.
//!
//! ```text
//! idv-local s3-events --invoke http://127.0.0.1:9000
//! idv-local s3-cors --port 8015 --upstream http://127.0.0.1:8014 [--origins '*' | 'http://a,http://b']
//! idv-local stream --invoke http://127.0.0.1:9000 [--function webhook-fanout --filter feed]
//! idv-local queue --port 9324 --invoke http://127.0.0.1:9000
//! idv-local listen --key sk_staging_… --forward-to http://localhost:3000/hook
//! idv-local sweep --invoke http://127.0.0.1:9000 --every 60
//! idv-local queue --port 9324 --invoke http://127.0.0.1:9000 --function webhook-delivery --queue idv-webhook-deliveries [--batch 10]
//! idv-local fixture licence-back [--expired|--blurred] > back.jpg
//! idv-local fixture bill [--days-ago 10] > bill.pdf
//! ```
//!
//! `s3-events` watches the documents bucket (`IDV_BUCKET` at `AWS_ENDPOINT_URL_S3`) and
//! invokes the `document-events` function through `cargo lambda watch` with the SQS batch
//! AWS would deliver for each new object.
//!
//! `s3-cors` serves 127.0.0.1:`--port` in front of the S3 server at `--upstream` and answers
//! browsers as the documents bucket's CORS rule does on AWS (`template.yaml`; `--origins`
//! is its `UploadOrigins`, default `*`): preflights are answered (200 or S3's 403),
//! everything else is forwarded byte for byte, `Host` included so presigned signatures made
//! for the proxy's address verify, with the CORS headers added (`idv_local::s3_cors`).
//! Point `AWS_ENDPOINT_URL_S3` at it and presigned upload URLs name it.
//!
//! `stream` reads the table's DynamoDB stream and invokes `expiry-stream` with the TTL
//! deletions of timers (or, with `--function webhook-fanout --filter feed`, the fan-out
//! with new feed events), as the event source mappings do on AWS; `queue` serves the
//! deliveries queue and feeds `webhook-delivery`; `listen` forwards a tenancy's webhooks
//! to a developer's receiver (`idv_local::listen`); `sweep` invokes
//! `expiry-sweep` every `--every` seconds, as the EventBridge schedule does.

use std::process::ExitCode;
use std::time::Duration;

use idv::config::{aws_clients, Config};
use idv::domain::values::Timestamp;
use idv::store::objects::Objects;
use idv_local::invoke::invoke;
use idv_local::s3_events::S3Relay;
use idv_local::schedule::scheduled_event;
use idv_local::streams::{
    latest_stream_arn, RelayError as StreamError, StartingPosition, StreamRelay,
};

fn arg(args: &[String], name: &str) -> Option<String> {
    args.windows(2).find(|w| w[0] == name).map(|w| w[1].clone())
}

async fn s3_events(args: &[String]) -> Result<(), String> {
    let base = arg(args, "--invoke").unwrap_or_else(|| "http://127.0.0.1:9000".into());
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let (_, s3) = aws_clients().await;
    let mut relay = S3Relay::new(Objects::new(s3, config.bucket));
    tracing::info!(%base, "relaying S3 ObjectCreated events to document-events");
    loop {
        let delivered = relay
            .poll_once(|event| {
                let base = base.clone();
                async move {
                    let response = invoke(&base, "document-events", event).await?;
                    Ok(response["batchItemFailures"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default())
                }
            })
            .await;
        match delivered {
            Ok(0) => {}
            Ok(n) => tracing::info!(objects = n, "delivered ObjectCreated events"),
            Err(e) => {
                tracing::warn!(error = %idv::http::error::chain(&e), "listing the bucket failed")
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Writes a synthetic test document to stdout: `fixture licence-back [--expired|--blurred]`
/// (a 2-megapixel JPEG of a licence back with a real PDF417 barcode) or
/// `fixture bill [--days-ago N]` (a one-page utility bill PDF with a text layer).
fn fixture(args: &[String]) -> Result<(), String> {
    use idv_checks::fixtures::{
        address_pdf, default_bill, licence_back_jpeg, LicenceFields, Variant,
    };
    use std::io::Write;
    let bytes =
        match args.first().map(String::as_str) {
            Some("licence-back") => {
                let mut fields = LicenceFields::default();
                let mut variant = Variant::Clean;
                if args.iter().any(|a| a == "--expired") {
                    fields.issue_date = time::macros::date!(2015 - 01 - 10);
                    fields.expiry_date = time::macros::date!(2020 - 01 - 10);
                }
                if args.iter().any(|a| a == "--blurred") {
                    variant = Variant::Blurred;
                }
                licence_back_jpeg(&fields, variant)
            }
            Some("bill") => {
                let days: i64 = arg(args, "--days-ago")
                    .map_or(Ok(10), |d| d.parse())
                    .map_err(|_| "--days-ago takes a number")?;
                let today = time::OffsetDateTime::now_utc().date();
                address_pdf(&default_bill(today - time::Duration::days(days)))
            }
            _ => return Err(
                "usage: idv-local fixture licence-back [--expired|--blurred] | bill [--days-ago N]"
                    .into(),
            ),
        };
    std::io::stdout()
        .write_all(&bytes)
        .map_err(|e| e.to_string())
}

/// The `batchItemFailures[].itemIdentifier`s of a partial batch response.
fn failed_items(response: &serde_json::Value) -> Vec<String> {
    response["batchItemFailures"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["itemIdentifier"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// `stream`: reads the table's DynamoDB stream (`IDV_TABLE`; DynamoDB Streams at
/// `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`, else at `AWS_ENDPOINT_URL_DYNAMODB`, which is
/// where DynamoDB Local serves it) from now on, and invokes `expiry-stream` with the
/// filtered batches AWS would deliver, every 250 ms.
async fn stream(args: &[String]) -> Result<(), String> {
    let base = arg(args, "--invoke").unwrap_or_else(|| "http://127.0.0.1:9000".into());
    let config = Config::from_env().map_err(|e| e.to_string())?;
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(idv::config::https_client())
        .load()
        .await;
    let mut streams = aws_sdk_dynamodbstreams::config::Builder::from(&shared);
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB_STREAMS").is_none() {
        if let Ok(url) = std::env::var("AWS_ENDPOINT_URL_DYNAMODB") {
            streams = streams.endpoint_url(url);
        }
    }
    let streams = aws_sdk_dynamodbstreams::Client::from_conf(streams.build());
    let dynamodb = aws_sdk_dynamodb::Client::new(&shared);
    let err = |e: StreamError| idv::http::error::chain(&e);
    let arn = latest_stream_arn(&dynamodb, &config.table)
        .await
        .map_err(err)?;
    let function = arg(args, "--function").unwrap_or_else(|| "expiry-stream".into());
    let filter = match arg(args, "--filter").as_deref() {
        None | Some("ttl-timers") => idv_local::streams::TTL_TIMER_FILTER,
        Some("feed") => idv_local::streams::FEED_INSERT_FILTER,
        Some(_) => return Err("--filter takes ttl-timers or feed".into()),
    };
    let filter: serde_json::Value = serde_json::from_str(filter).map_err(|e| e.to_string())?;
    let mut relay = StreamRelay::connect(streams, arn, StartingPosition::Latest)
        .await
        .map_err(err)?
        .with_filter(filter);
    tracing::info!(%base, %function, stream = relay.stream_arn(), "relaying stream records");
    loop {
        let polled = relay
            .poll_once(|event| {
                let base = base.clone();
                let function = function.clone();
                async move { Ok(failed_items(&invoke(&base, &function, event).await?)) }
            })
            .await;
        match polled {
            Ok(p) if p.matched == 0 && p.failed == 0 => {}
            Ok(p) => tracing::info!(?p, "delivered stream records"),
            Err(e) => tracing::warn!(error = %err(e), "reading the stream failed"),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `sweep`: invokes `expiry-sweep` with an EventBridge scheduled event every `--every`
/// seconds (default 60; the template's schedule is every 5 minutes).
async fn sweep(args: &[String]) -> Result<(), String> {
    let base = arg(args, "--invoke").unwrap_or_else(|| "http://127.0.0.1:9000".into());
    let every: u64 = arg(args, "--every")
        .map_or(Ok(60), |s| s.parse())
        .map_err(|_| "--every takes a number of seconds")?;
    tracing::info!(%base, every, "invoking expiry-sweep on a schedule");
    let mut tick = tokio::time::interval(Duration::from_secs(every.max(1)));
    loop {
        tick.tick().await;
        let now = Timestamp::now();
        let event = scheduled_event(&format!("local-{}", now.unix()), &now.to_string());
        match invoke(&base, "expiry-sweep", event).await {
            Ok(report) => tracing::info!(%report, "sweep finished"),
            Err(e) => tracing::warn!(error = %e, "invoking expiry-sweep failed"),
        }
    }
}

/// `queue`: serves an in-memory SQS on 127.0.0.1:`--port` (point functions at it with
/// `AWS_ENDPOINT_URL_SQS=http://127.0.0.1:9324`) and, as the event source mapping does,
/// hands `--queue`'s messages to `--function` in batches of up to `--batch` every 100 ms,
/// deleting what succeeded and leaving the reported `batchItemFailures` to reappear.
async fn queue(args: &[String]) -> Result<(), String> {
    use idv_local::queue::{serve, LocalQueues};
    let port: u16 = arg(args, "--port")
        .map_or(Ok(9324), |p| p.parse())
        .map_err(|_| "--port takes a port number")?;
    let batch: usize = arg(args, "--batch")
        .map_or(Ok(10), |b| b.parse())
        .map_err(|_| "--batch takes a number")?;
    let base = arg(args, "--invoke").unwrap_or_else(|| "http://127.0.0.1:9000".into());
    let function = arg(args, "--function").unwrap_or_else(|| "webhook-delivery".into());
    let name = arg(args, "--queue").unwrap_or_else(|| "idv-webhook-deliveries".into());
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("binding 127.0.0.1:{port}: {e}"))?;
    let queues = LocalQueues::new();
    let server = tokio::spawn(serve(queues.clone(), listener));
    tracing::info!(port, %base, %function, queue = %name, "serving SQS and relaying the queue");
    loop {
        if server.is_finished() {
            return Err("the SQS server stopped".into());
        }
        let pumped = queues
            .pump_once(&name, batch, |event| {
                let (base, function) = (base.clone(), function.clone());
                async move { Ok(failed_items(&invoke(&base, &function, event).await?)) }
            })
            .await;
        if pumped.received > 0 || pumped.dead_lettered > 0 {
            tracing::info!(?pumped, "delivered queue messages");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `s3-cors`: the bucket's CORS rule in front of the S3 server (`idv_local::s3_cors`).
async fn s3_cors(args: &[String]) -> Result<(), String> {
    use idv_local::s3_cors::{serve, CorsRule, Proxy};
    let port: u16 = arg(args, "--port")
        .map_or(Ok(8015), |p| p.parse())
        .map_err(|_| "--port takes a port number")?;
    let upstream = arg(args, "--upstream")
        .ok_or("--upstream http://127.0.0.1:PORT (the S3 server) is required")?;
    let origins = CorsRule::parse_origins(&arg(args, "--origins").unwrap_or_else(|| "*".into()))?;
    let proxy = Proxy::new(CorsRule::documents(origins.clone()), &upstream)?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("binding 127.0.0.1:{port}: {e}"))?;
    tracing::info!(port, %upstream, ?origins, "serving S3 with the documents bucket's CORS rule");
    serve(listener, proxy).await.map_err(|e| e.to_string())
}

/// `listen`: registers (or reuses) an endpoint for the key's tenancy pointing at a local
/// port, prints its secret, then prints and forwards every delivery (`idv_local::listen`).
async fn listen(args: &[String]) -> Result<(), String> {
    use idv_local::listen::{register, serve, Options};
    let key = arg(args, "--key").ok_or("--key sk_staging_… is required")?;
    let forward_to = arg(args, "--forward-to").ok_or("--forward-to URL is required")?;
    let port: u16 = arg(args, "--port")
        .map_or(Ok(9400), |p| p.parse())
        .map_err(|_| "--port takes a port number")?;
    let tools = std::env::var("IDV_TOOLS_DIR").unwrap_or_else(|_| ".tools".into());
    let options = Options {
        key,
        forward_to: forward_to.clone(),
        api: arg(args, "--api").unwrap_or_else(|| "http://127.0.0.1:9000".into()),
        port,
        state_dir: std::path::PathBuf::from(tools).join("listen"),
    };
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .map_err(|e| format!("binding 127.0.0.1:{port}: {e}"))?;
    let url = format!("http://127.0.0.1:{port}/webhooks");
    let o = options.clone();
    let u = url.clone();
    let (registration, reused) = tokio::task::spawn_blocking(move || register(&o, &u))
        .await
        .map_err(|e| e.to_string())??;
    println!(
        "{} endpoint {} → {url}\nsigning secret: {}\nforwarding every event to {forward_to} (Ctrl-C stops)",
        if reused { "reusing" } else { "registered" },
        registration.id,
        registration.secret
    );
    serve(listener, registration.secret, forward_to)
        .await
        .map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    idv::config::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("s3-events") => s3_events(&args[1..]).await,
        Some("s3-cors") => s3_cors(&args[1..]).await,
        Some("fixture") => fixture(&args[1..]),
        Some("stream") => stream(&args[1..]).await,
        Some("sweep") => sweep(&args[1..]).await,
        Some("queue") => queue(&args[1..]).await,
        Some("listen") => listen(&args[1..]).await,
        _ => Err("usage: idv-local s3-events|s3-cors|stream|sweep|queue|listen [--invoke http://127.0.0.1:9000] [--every SECONDS] | fixture ...".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
