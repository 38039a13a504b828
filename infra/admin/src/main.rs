//! `idv-admin`: the operator's tool.
//!
//! ```text
//! idv-admin create-table
//! idv-admin create-bucket
//! idv-admin issue-key --tenant acme --environment staging --name "backend" [--scopes '*'] [--expires-at 2026-12-31T00:00:00Z] [--rate-limit 20]
//! idv-admin list-keys --tenant acme --environment staging
//! idv-admin set-rate-limit key_01HQ… 20|default
//! idv-admin revoke-key key_01HQ…
//! idv-admin capture-link --session sess_01HQ… [--tenant local --environment staging] [--steps idv,address] [--ttl-seconds 1800] [--base-url http://localhost:9000]
//! ```
//!
//! `capture-link` issues a client token for a session (as `POST
//! /sessions/{id}/client-token` does, written straight to the table) and prints the hosted
//! page's link, for trying the applicant's flow by hand. The token counts against a rate
//! limit of its own, not any key's.
//!
//! `--rate-limit` is the key's own limit in requests per second; without it the key takes
//! the deployment's default (`IDV_RATE_LIMIT_PER_SECOND`, the template's `RateLimitPerKey`).
//!
//! The table name comes from `IDV_TABLE` (default `idv`), the endpoint from the AWS
//! configuration chain (`AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local). `issue-key` prints
//! the secret once, on its own line; only its SHA-256 is stored.

use std::collections::HashMap;
use std::process::ExitCode;

use idv::domain::auth::{hash_secret, new_secret, ApiKey, Permission, Principal};
use idv::domain::client_token::{
    CaptureStep, DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, MIN_TTL_SECONDS,
};
use idv::domain::ids::{ApiKeyId, SessionId};
use idv::domain::values::{Environment, Tenancy, TenantId, Timestamp};
use idv::store::query::{Direction, PageRequest};
use idv::store::{table, Store};
use idv::workflow::{client_tokens, WorkflowError};

const USAGE: &str = "usage:
  idv-admin create-table
  idv-admin create-bucket
  idv-admin issue-key --tenant T --environment production|staging --name N [--scopes S,S|*] [--expires-at RFC3339] [--rate-limit PER_SECOND]
  idv-admin list-keys --tenant T --environment production|staging
  idv-admin set-rate-limit KEY_ID PER_SECOND|default
  idv-admin revoke-key KEY_ID
  idv-admin capture-link --session SESSION_ID [--tenant T --environment production|staging] [--steps idv|idv,address] [--ttl-seconds 60..3600] [--base-url URL]";

/// A per-key limit: a whole number of requests per second, at least 1 (a single counter
/// item takes about 1,000 writes a second, so larger limits cannot be enforced).
fn rate_limit(text: &str) -> Result<u32, String> {
    match text.parse::<u32>() {
        Ok(n) if (1..=1000).contains(&n) => Ok(n),
        _ => Err("a rate limit is a number of requests per second, 1 to 1000".into()),
    }
}

fn flags(args: &[String]) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let name = flag
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument {flag}"))?;
        let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
        out.insert(name.to_owned(), value.clone());
    }
    Ok(out)
}

fn tenancy(f: &HashMap<String, String>) -> Result<Tenancy, String> {
    let tenant = f
        .get("tenant")
        .and_then(|t| TenantId::parse(t))
        .ok_or("--tenant must be 1-64 lower-case letters, digits, - or _")?;
    let environment = f
        .get("environment")
        .and_then(|e| Environment::parse(e))
        .ok_or("--environment must be production or staging")?;
    Ok(Tenancy {
        tenant,
        environment,
    })
}

async fn run(args: Vec<String>) -> Result<(), String> {
    let table_name = std::env::var("IDV_TABLE").unwrap_or_else(|_| "idv".into());
    let client = idv::config::dynamodb_client().await;
    let store = Store::new(client.clone(), table_name.clone());
    let err = |e: idv::store::StoreError| idv::http::error::chain(&e);
    match args.first().map(String::as_str) {
        Some("create-table") => {
            table::create_table(&client, &table_name)
                .await
                .map_err(err)?;
            println!("table {table_name} is ready");
        }
        Some("create-bucket") => {
            // Local stacks only: on AWS the template creates the bucket.
            let bucket = std::env::var("IDV_BUCKET").unwrap_or_else(|_| "idv-documents".into());
            let (_, s3) = idv::config::aws_clients().await;
            match s3.create_bucket().bucket(&bucket).send().await {
                Ok(_) => {}
                Err(e)
                    if e.as_service_error().is_some_and(|s| {
                        s.is_bucket_already_owned_by_you() || s.is_bucket_already_exists()
                    }) => {}
                Err(e) => {
                    return Err(format!(
                        "creating bucket {bucket}: {}",
                        idv::http::error::chain(&e)
                    ))
                }
            }
            println!("bucket {bucket} is ready");
        }
        Some("issue-key") => {
            let f = flags(&args[1..])?;
            let tenancy = tenancy(&f)?;
            let name = f.get("name").cloned().ok_or("--name is required")?;
            let scopes = f
                .get("scopes")
                .map_or("*", String::as_str)
                .split(',')
                .map(|s| Permission::parse(s.trim()).ok_or(format!("unknown scope {s}")))
                .collect::<Result<Vec<_>, _>>()?;
            let expires_at = match f.get("expires-at") {
                Some(t) => Some(Timestamp::parse(t).ok_or("--expires-at must be RFC 3339")?),
                None => None,
            };
            let limit = f.get("rate-limit").map(|r| rate_limit(r)).transpose()?;
            let now = Timestamp::now();
            let secret = new_secret(tenancy.environment).map_err(|e| e.to_string())?;
            let key = ApiKey {
                id: ApiKeyId::new(now.datetime()),
                tenant: tenancy.tenant.clone(),
                environment: tenancy.environment,
                name,
                scopes,
                created_at: now,
                expires_at,
                revoked: false,
                revoked_at: None,
                rate_limit: limit,
            };
            store
                .put_api_key(&hash_secret(&secret), &key)
                .await
                .map_err(err)?;
            eprintln!(
                "issued {} for {}/{}; the secret is shown once:",
                key.id, key.tenant, key.environment
            );
            println!("{secret}");
        }
        Some("list-keys") => {
            let f = flags(&args[1..])?;
            let tenancy = tenancy(&f)?;
            let mut page = PageRequest {
                size: 100,
                cursor: None,
                total: false,
            };
            loop {
                let got = store.list_api_keys(&tenancy, &page).await.map_err(err)?;
                for (_, k) in &got.items {
                    let scopes: Vec<&str> = k.scopes.iter().map(Permission::as_str).collect();
                    println!(
                        "{}\t{}\t{}\tcreated {}\texpires {}\trate limit {}\t{}",
                        k.id,
                        k.name,
                        scopes.join(","),
                        k.created_at,
                        k.expires_at.map_or("never".into(), |t| t.to_string()),
                        k.rate_limit.map_or("default".into(), |r| format!("{r}/s")),
                        if k.revoked { "REVOKED" } else { "active" }
                    );
                }
                // A page may stop short of its size with a cursor (bounded reads): follow
                // `next`, not the last item.
                match got.next {
                    Some(pos) => page.cursor = Some((Direction::After, pos)),
                    None => break,
                }
            }
        }
        Some("set-rate-limit") => {
            let id = args
                .get(1)
                .and_then(|s| ApiKeyId::parse(s).ok())
                .ok_or("set-rate-limit needs a key id (key_…)")?;
            let limit = match args.get(2).map(String::as_str) {
                Some("default") => None,
                Some(n) => Some(rate_limit(n)?),
                None => return Err("set-rate-limit needs a limit (or `default`)".into()),
            };
            match store.set_api_key_rate_limit(id, limit).await.map_err(err)? {
                Some(k) => println!(
                    "{} now allows {} (takes effect within the key cache lifetime, 5 s by default)",
                    k.id,
                    k.rate_limit
                        .map_or("the default rate".into(), |r| format!("{r} requests/s"))
                ),
                None => return Err(format!("no key {id}")),
            }
        }
        Some("revoke-key") => {
            let id = args
                .get(1)
                .and_then(|s| ApiKeyId::parse(s).ok())
                .ok_or("revoke-key needs a key id (key_…)")?;
            match store
                .revoke_api_key(id, Timestamp::now())
                .await
                .map_err(err)?
            {
                Some(k) => println!(
                    "revoked {} (takes effect within the key cache lifetime, 5 s by default)",
                    k.id
                ),
                None => return Err(format!("no key {id}")),
            }
        }
        Some("capture-link") => {
            let mut f = flags(&args[1..])?;
            f.entry("tenant".into()).or_insert_with(|| "local".into());
            f.entry("environment".into())
                .or_insert_with(|| "staging".into());
            let tenancy = tenancy(&f)?;
            let session = f
                .get("session")
                .and_then(|s| SessionId::parse(s).ok())
                .ok_or("--session must be a session id (sess_…)")?;
            let steps = f
                .get("steps")
                .map_or("idv", String::as_str)
                .split(',')
                .map(|s| CaptureStep::parse(s.trim()).ok_or(format!("unknown step {s}")))
                .collect::<Result<Vec<_>, _>>()?;
            if steps != [CaptureStep::Idv] && steps != [CaptureStep::Idv, CaptureStep::Address] {
                return Err("--steps must be idv or idv,address".into());
            }
            let ttl = match f.get("ttl-seconds") {
                Some(t) => t
                    .parse::<u32>()
                    .ok()
                    .filter(|t| (MIN_TTL_SECONDS..=MAX_TTL_SECONDS).contains(t))
                    .ok_or("--ttl-seconds must be 60 to 3600")?,
                None => DEFAULT_TTL_SECONDS,
            };
            let now = Timestamp::now();
            let operator = Principal {
                key_id: ApiKeyId::new(now.datetime()),
                tenancy,
                scopes: vec![Permission::SessionsWrite],
                client: None,
            };
            let issued = client_tokens::issue(&store, &operator, session, ttl, steps, now)
                .await
                .map_err(|e| match e {
                    WorkflowError::NotFound => format!("no session {session} in this tenancy"),
                    other => idv::http::error::chain(&other),
                })?;
            let base = f
                .get("base-url")
                .map_or("http://localhost:9000", String::as_str)
                .trim_end_matches('/');
            println!(
                "{base}/v1/identity/capture#token={}\n(valid until {})",
                issued.secret, issued.token.expires_at
            );
        }
        _ => return Err(USAGE.into()),
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(std::env::args().skip(1).collect()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}
