//! The events Lambda: configuration and clients are built once per cold start, then
//! the router serves every request.

use std::sync::Arc;

use idv::config::init_tracing;
use idv::http::AppState;
use idv::webhooks::Webhooks;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let state = AppState::from_env().await?;
    let hooks = Arc::new(Webhooks::from_env(false).await?);
    lambda_http::run(events::router(state, hooks)).await
}
