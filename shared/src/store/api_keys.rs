//! API keys in the table, found by the SHA-256 of the secret.
//!
//! Key items are the only items whose partition key is not scoped to a tenancy: a request
//! presents only the secret, and its hash is what leads to the tenancy.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::items::{envelope, ItemKeys};
use super::keys::{self, GSI1, GSI2};
use super::query::{ListQuery, Page, PageRequest, Partition};
use super::{decode, s, Store, StoreError};
use crate::domain::auth::ApiKey;
use crate::domain::ids::ApiKeyId;
use crate::domain::values::{Tenancy, Timestamp};

/// Entity name of key items.
pub const ENTITY: &str = "api_key";

/// The item of a key: found by hash (table), listed per tenancy (gsi1), found by id (gsi2).
fn api_key_item(hash: &str, key: &ApiKey) -> Result<super::Item, StoreError> {
    let pos = keys::position(key.created_at, &key.id);
    envelope(
        ENTITY,
        ItemKeys {
            pk: keys::api_key_pk(hash),
            sk: keys::API_KEY_SK.to_owned(),
            indexes: vec![
                (GSI1, keys::api_keys_pk(&key.tenancy()), pos.clone()),
                (GSI2, keys::api_key_id_pk(key.id), pos),
            ],
        },
        key,
    )
}

impl Store {
    /// Stores a new key under the hash of its secret.
    pub async fn put_api_key(&self, hash: &str, key: &ApiKey) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(self.table())
            .set_item(Some(api_key_item(hash, key)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Dynamo {
                context: "building a request",
                source: Box::new(e),
            })?;
        self.transact(
            "storing an API key",
            vec![TransactWriteItem::builder().put(put).build()],
        )
        .await
    }

    /// The key whose secret hashes to `hash`, if any.
    pub async fn api_key_by_hash(&self, hash: &str) -> Result<Option<ApiKey>, StoreError> {
        self.get_decoded(
            "reading an API key",
            keys::api_key_pk(hash),
            keys::API_KEY_SK,
        )
        .await
    }

    /// One page of a tenancy's keys, newest first.
    pub async fn list_api_keys(
        &self,
        tenancy: &Tenancy,
        page: &PageRequest,
    ) -> Result<Page<ApiKey>, StoreError> {
        let query = ListQuery {
            partitions: vec![Partition {
                index: Some(GSI1),
                pk: keys::api_keys_pk(tenancy),
                sk_prefix: String::new(),
                filter: None,
            }],
            ascending: false,
            from: None,
            to: None,
            filter: None,
        };
        self.list(&query, page)
            .await?
            .try_map(|item| decode("listing API keys", item))
    }

    /// The table key (`pk`) and the item of the key with public id `id`, found through
    /// gsi2 (one Query).
    async fn api_key_by_id(&self, id: ApiKeyId) -> Result<Option<(String, ApiKey)>, StoreError> {
        let found = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(GSI2.name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", GSI2.pk)
            .expression_attribute_values(":pk", s(keys::api_key_id_pk(id)))
            .send()
            .await
            .map_err(|e| super::sdk_error("finding an API key", e))?;
        let Some(item) = found.items.unwrap_or_default().into_iter().next() else {
            return Ok(None);
        };
        let Some(pk) = item.get(keys::PK).and_then(|v| v.as_s().ok()).cloned() else {
            return Ok(None);
        };
        Ok(Some((pk, decode("finding an API key", item)?)))
    }

    /// Revokes a key by its public id. Returns the key as revoked, or `None` if no key has
    /// this id. Revoking twice keeps the first revocation time.
    pub async fn revoke_api_key(
        &self,
        id: ApiKeyId,
        now: Timestamp,
    ) -> Result<Option<ApiKey>, StoreError> {
        let Some((pk, key)) = self.api_key_by_id(id).await? else {
            return Ok(None);
        };
        if key.revoked {
            return Ok(Some(key));
        }
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(Store::key(pk, keys::API_KEY_SK)))
            .update_expression("SET revoked = :t, revoked_at = :now")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":t", aws_sdk_dynamodb::types::AttributeValue::Bool(true))
            .expression_attribute_values(":now", s(now.to_string()))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| super::sdk_error("revoking an API key", e))?;
        out.attributes
            .map(|item| decode("revoking an API key", item))
            .transpose()
    }

    /// Sets the key's own rate limit (requests per second), or with `None` returns it to
    /// the deployment's default. Returns the key as changed, or `None` if no key has this
    /// id. Warm Lambdas see the change once their cached lookup ends.
    pub async fn set_api_key_rate_limit(
        &self,
        id: ApiKeyId,
        per_second: Option<u32>,
    ) -> Result<Option<ApiKey>, StoreError> {
        let Some((pk, _)) = self.api_key_by_id(id).await? else {
            return Ok(None);
        };
        let limit = match per_second {
            Some(n) => super::n(n),
            None => aws_sdk_dynamodb::types::AttributeValue::Null(true),
        };
        let out = self
            .client()
            .update_item()
            .table_name(self.table())
            .set_key(Some(Store::key(pk, keys::API_KEY_SK)))
            .update_expression("SET rate_limit = :limit")
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_values(":limit", limit)
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| super::sdk_error("setting an API key's rate limit", e))?;
        out.attributes
            .map(|item| decode("setting an API key's rate limit", item))
            .transpose()
    }
}
