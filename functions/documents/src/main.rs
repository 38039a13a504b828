//! The documents Lambda: configuration, clients and check settings are built once per cold start, then
//! the router serves every request.

use idv::config::init_tracing;
use idv::http::AppState;
use idv::workflow::verify::Settings;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let state = AppState::from_env().await?;
    let settings = Settings::from_env()?;
    lambda_http::run(documents::router(state, settings)).await
}
