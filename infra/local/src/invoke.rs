//! Invoking a function served by `cargo lambda watch` through its Lambda Invoke API.

use serde_json::Value;

/// POSTs `event` to `{base}/2015-03-31/functions/{function}/invocations` and returns the
/// function's response.
pub async fn invoke(base: &str, function: &str, event: Value) -> Result<Value, String> {
    let url = format!("{base}/2015-03-31/functions/{function}/invocations");
    tokio::task::spawn_blocking(move || {
        ureq::post(&url)
            .timeout(std::time::Duration::from_secs(300))
            .send_json(event)
            .map_err(|e| format!("invoking {url}: {e}"))?
            .into_json::<Value>()
            .map_err(|e| format!("reading the response of {url}: {e}"))
    })
    .await
    .map_err(|e| e.to_string())?
}
