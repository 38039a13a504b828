//! The table definition, in one place: the admin CLI and the tests create the table from it,
//! and a test checks that `template.yaml` declares the same keys, indexes, TTL and stream.

use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use super::keys::{INDEXES, PK, SK, TTL};
use super::{sdk_error, StoreError};

/// The stream view the expiry function needs (it reads the timer's old image).
pub const STREAM_VIEW: &str = "NEW_AND_OLD_IMAGES";

/// Every key attribute of the table and its indexes (all strings).
pub fn key_attributes() -> Vec<&'static str> {
    let mut attrs = vec![PK, SK];
    for index in INDEXES {
        attrs.push(index.pk);
        attrs.push(index.sk);
    }
    attrs
}

fn key(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(|e| StoreError::Dynamo {
            context: "building the table definition",
            source: Box::new(e),
        })
}

fn build_err(e: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError::Dynamo {
        context: "building the table definition",
        source: Box::new(e),
    }
}

/// Creates the table (on-demand billing, four GSIs projecting all attributes, a
/// NEW_AND_OLD_IMAGES stream), waits until it is active, and enables TTL on `ttl`.
/// Harmless if the table already exists.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    let mut req = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash)?)
        .key_schema(key(SK, KeyType::Range)?)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(build_err)?,
        );
    for attr in key_attributes() {
        req = req.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(attr)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(build_err)?,
        );
    }
    for index in INDEXES {
        req = req.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index.name)
                .key_schema(key(index.pk, KeyType::Hash)?)
                .key_schema(key(index.sk, KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(build_err)?,
        );
    }
    match req.send().await {
        Ok(_) => {}
        Err(e) if e.as_service_error().and_then(|e| e.code()) == Some("ResourceInUseException") => {
        }
        Err(e) => return Err(sdk_error("creating the table", e)),
    }
    for _ in 0..600 {
        let out = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| sdk_error("waiting for the table", e))?;
        if out.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ttl = client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .attribute_name(TTL)
                .enabled(true)
                .build()
                .map_err(build_err)?,
        )
        .send()
        .await;
    match ttl {
        Ok(_) => Ok(()),
        // Enabling TTL twice is refused with a ValidationException; that is the state we want.
        Err(e)
            if e.as_service_error()
                .and_then(|e| e.message())
                .is_some_and(|m| m.contains("already enabled")) =>
        {
            Ok(())
        }
        Err(e) => Err(sdk_error("enabling TTL", e)),
    }
}
