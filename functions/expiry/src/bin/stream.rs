//! The `expiry-stream` Lambda: the table's stream, filtered by the event source mapping to
//! TTL deletions of timers, with partial batch responses (see `expiry::Expirer`).

use aws_lambda_events::event::dynamodb::Event;
use expiry::Expirer;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    idv::config::init_tracing();
    let expirer = Expirer::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        let expirer = expirer.clone();
        async move { Ok::<_, lambda_runtime::Error>(expirer.handle_stream(event.payload).await) }
    }))
    .await
}
