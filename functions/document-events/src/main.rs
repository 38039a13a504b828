//! The document-events Lambda (SQS event source with partial batch responses).

use document_events::Checker;
use idv::config::{aws_clients, init_tracing, Config};
use idv::store::objects::Objects;
use idv::store::Store;
use lambda_runtime::{service_fn, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    init_tracing();
    idv::store::secrets::load().await?;
    let config = Config::from_env()?;
    let (dynamodb, s3) = aws_clients().await;
    let checker = Checker {
        store: Store::new(dynamodb, config.table.clone()).with_retention(config.retention),
        objects: Objects::new(s3, config.bucket.clone()),
        settings: idv::workflow::verify::Settings::from_env()?,
        session_lifetime: config.session_lifetime,
    };
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<aws_lambda_events::event::sqs::SqsEvent>| {
            let checker = checker.clone();
            async move { Ok::<_, lambda_runtime::Error>(checker.handle(event.payload).await) }
        },
    ))
    .await
}
