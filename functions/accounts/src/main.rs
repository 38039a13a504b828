//! The accounts Lambda: configuration and clients are built once per cold start, then
//! the router serves every request.

use idv::config::{dynamodb_client, init_tracing, Config};
use idv::http::AppState;
use idv::store::Store;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let config = Config::from_env()?;
    let store = Store::new(dynamodb_client().await, config.table.clone());
    lambda_http::run(accounts::router(AppState::new(store, config))).await
}
