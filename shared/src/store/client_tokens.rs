//! Client tokens in the table, found by the SHA-256 of the secret (like API keys, before the
//! tenancy is known).
//!
//! An item holds ids and times only, never personal data, and carries `ttl` an hour after
//! the token's expiry so DynamoDB removes it; a reader never trusts `ttl` (deletion is late)
//! but the token's own `expires_at`. Because it carries a TTL it sits in every index under
//! its own pk/sk, which no query names (see `keys`: DynamoDB Local's TTL stalls otherwise).

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::items::{envelope, ItemKeys};
use super::keys::{self, GSI1, GSI2, GSI3, GSI4};
use super::{build, n, Item, Store, StoreError};
use crate::domain::client_token::ClientToken;

/// Entity name of client-token items.
pub const ENTITY: &str = "client_token";

/// How long an item outlives its token before TTL may delete it.
const TTL_GRACE_SECONDS: i64 = 3600;

/// The item of a token.
fn client_token_item(hash: &str, token: &ClientToken) -> Result<Item, StoreError> {
    let pk = keys::client_token_pk(hash);
    let sk = keys::CLIENT_TOKEN_SK.to_owned();
    let indexes = [GSI1, GSI2, GSI3, GSI4]
        .into_iter()
        .map(|index| (index, pk.clone(), sk.clone()))
        .collect();
    let mut item = envelope(ENTITY, ItemKeys { pk, sk, indexes }, token)?;
    let ttl = token.expires_at.datetime().unix_timestamp() + TTL_GRACE_SECONDS;
    item.insert(keys::TTL.to_owned(), n(ttl));
    Ok(item)
}

impl Store {
    /// Stores a new token under the hash of its secret (one conditional Put).
    pub async fn put_client_token(
        &self,
        hash: &str,
        token: &ClientToken,
    ) -> Result<(), StoreError> {
        let put = build(
            Put::builder()
                .table_name(self.table())
                .set_item(Some(client_token_item(hash, token)?))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        self.transact(
            "storing a client token",
            vec![TransactWriteItem::builder().put(put).build()],
        )
        .await
    }

    /// The token whose secret hashes to `hash`, if any (expired ones included: the caller
    /// checks `expires_at`).
    pub async fn client_token_by_hash(
        &self,
        hash: &str,
    ) -> Result<Option<ClientToken>, StoreError> {
        self.get_decoded(
            "reading a client token",
            keys::client_token_pk(hash),
            keys::CLIENT_TOKEN_SK,
        )
        .await
    }
}
