//! `idv-admin`: the operator's tool.
//!
//! ```text
//! idv-admin create-table
//! idv-admin create-bucket
//! idv-admin issue-key --tenant acme --environment staging --name "backend" [--scopes '*'] [--expires-at 2026-12-31T00:00:00Z]
//! idv-admin list-keys --tenant acme --environment staging
//! idv-admin revoke-key key_01HQ…
//! ```
//!
//! The table name comes from `IDV_TABLE` (default `idv`), the endpoint from the AWS
//! configuration chain (`AWS_ENDPOINT_URL_DYNAMODB` for DynamoDB Local). `issue-key` prints
//! the secret once, on its own line; only its SHA-256 is stored.

use std::collections::HashMap;
use std::process::ExitCode;

use idv::domain::auth::{hash_secret, new_secret, ApiKey, Permission};
use idv::domain::ids::ApiKeyId;
use idv::domain::values::{Environment, Tenancy, TenantId, Timestamp};
use idv::store::query::{Direction, PageRequest};
use idv::store::{table, Store};

const USAGE: &str = "usage:
  idv-admin create-table
  idv-admin create-bucket
  idv-admin issue-key --tenant T --environment production|staging --name N [--scopes S,S|*] [--expires-at RFC3339]
  idv-admin list-keys --tenant T --environment production|staging
  idv-admin revoke-key KEY_ID";

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
                        "{}\t{}\t{}\tcreated {}\texpires {}\t{}",
                        k.id,
                        k.name,
                        scopes.join(","),
                        k.created_at,
                        k.expires_at.map_or("never".into(), |t| t.to_string()),
                        if k.revoked { "REVOKED" } else { "active" }
                    );
                }
                match (got.has_next, got.items.last()) {
                    (true, Some((pos, _))) => page.cursor = Some((Direction::After, pos.clone())),
                    _ => break,
                }
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
