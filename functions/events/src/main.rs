//! The events Lambda: configuration and clients are built once per cold start, then
//! the router serves every request.

use idv::config::init_tracing;
use idv::http::AppState;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let state = AppState::from_env().await?;
    lambda_http::run(events::router(state)).await
}
