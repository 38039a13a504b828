//! The capture-page Lambda: the policy is computed once per cold start, then the router
//! serves the embedded page.

use idv::config::init_tracing;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    init_tracing();
    let upload = capture::UploadOrigin::from_env()?;
    lambda_http::run(capture::router(&upload)).await
}
