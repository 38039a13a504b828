//! The `webhook-delivery` Lambda: jobs from the deliveries queue (attempts and replay
//! pages), with partial batch responses.

use aws_lambda_events::event::sqs::SqsEvent;
use lambda_runtime::{service_fn, LambdaEvent};
use webhooks::Pipeline;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    idv::config::init_tracing();
    let pipeline = Pipeline::from_env(true).await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<SqsEvent>| {
        let pipeline = pipeline.clone();
        async move { Ok::<_, lambda_runtime::Error>(pipeline.deliver(event.payload).await) }
    }))
    .await
}
