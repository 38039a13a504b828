//! The `webhook-fanout` Lambda: the table's stream, filtered by the event source mapping to
//! new feed events, fanned out to the deliveries queue (partial batch responses).

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{service_fn, LambdaEvent};
use webhooks::Pipeline;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    idv::config::init_tracing();
    let pipeline = Pipeline::from_env(false).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| {
        let pipeline = pipeline.clone();
        async move { Ok::<_, lambda_runtime::Error>(pipeline.fan_out(event.payload).await) }
    }))
    .await
}
