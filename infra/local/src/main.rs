//! `idv-local`: the event plumbing of the local stack.
//!
//! ```text
//! idv-local s3-events --invoke http://127.0.0.1:9000
//! idv-local fixture licence-back [--expired|--blurred] > back.jpg
//! idv-local fixture bill [--days-ago 10] > bill.pdf
//! ```
//!
//! `s3-events` watches the documents bucket (`IDV_BUCKET` at `AWS_ENDPOINT_URL_S3`) and
//! invokes the `document-events` function through `cargo lambda watch` with the SQS batch
//! AWS would deliver for each new object.

use std::process::ExitCode;
use std::time::Duration;

use idv::config::{aws_clients, Config};
use idv::store::objects::Objects;
use idv_local::invoke::invoke;
use idv_local::s3_events::S3Relay;

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
    use idv_checks::fixtures::{address_pdf, default_bill, licence_back_jpeg, LicenceFields, Variant};
    use std::io::Write;
    let bytes = match args.first().map(String::as_str) {
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
            let days: i64 = arg(args, "--days-ago").map_or(Ok(10), |d| d.parse()).map_err(|_| "--days-ago takes a number")?;
            let today = time::OffsetDateTime::now_utc().date();
            address_pdf(&default_bill(today - time::Duration::days(days)))
        }
        _ => return Err("usage: idv-local fixture licence-back [--expired|--blurred] | bill [--days-ago N]".into()),
    };
    std::io::stdout().write_all(&bytes).map_err(|e| e.to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    idv::config::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("s3-events") => s3_events(&args[1..]).await,
        Some("fixture") => fixture(&args[1..]),
        _ => Err("usage: idv-local s3-events [--invoke http://127.0.0.1:9000]".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
