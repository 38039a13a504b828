//! The webhooks API Lambda: configuration, clients and the sealing key are built once per
//! cold start, then the router serves every request.

use std::sync::Arc;

use idv::config::init_tracing;
use idv::http::AppState;
use idv::webhooks::Webhooks;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let state = AppState::from_env().await?;
    let hooks = Arc::new(Webhooks::from_env(true).await?);
    lambda_http::run(webhooks::router(state, hooks)).await
}
