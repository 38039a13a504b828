//! The `expiry-sweep` Lambda: run by an EventBridge schedule, fires every timer already
//! due (see `expiry::Expirer::sweep`). The scheduled event carries nothing it needs.

use std::time::{Duration, SystemTime};

use expiry::Expirer;
use idv::domain::values::Timestamp;
use lambda_runtime::{service_fn, LambdaEvent};

/// Left for the last timers in flight and the response when the budget runs out.
const MARGIN: Duration = Duration::from_secs(10);

/// The budget when the invocation has no deadline in the future.
const FALLBACK_BUDGET: Duration = Duration::from_secs(60);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    idv::config::init_tracing();
    let expirer = Expirer::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        let expirer = expirer.clone();
        async move {
            let remaining = event
                .context
                .deadline()
                .duration_since(SystemTime::now())
                .unwrap_or_default();
            // On AWS the deadline is the function's Timeout. `cargo lambda watch` sends one
            // already past, so without a usable deadline the sweep takes a fixed budget.
            let budget = if remaining.is_zero() {
                FALLBACK_BUDGET
            } else if remaining > 2 * MARGIN {
                remaining - MARGIN
            } else {
                remaining / 2
            };
            let report = expirer.sweep(Timestamp::now(), budget).await;
            tracing::info!(?report, budget_ms = budget.as_millis(), "sweep finished");
            Ok::<_, lambda_runtime::Error>(report)
        }
    }))
    .await
}
