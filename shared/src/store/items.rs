//! Item envelopes: a domain value encoded with `serde_dynamo`, plus its keys, its `entity`
//! name and the `schema_version` of its shape.
//!
//! Domain structs ignore unknown attributes when decoded, so the key attributes need no
//! mirror struct; a future shape change bumps `schema_version` and decodes old items by it.

use super::keys::{Index, PK, SK};
use super::{encode, n, s, Item, StoreError};

/// The version of the item shapes this code writes.
pub const SCHEMA_VERSION: u32 = 1;

/// The keys an item is written under.
#[derive(Debug, Clone, Default)]
pub struct ItemKeys {
    /// Partition key.
    pub pk: String,
    /// Sort key.
    pub sk: String,
    /// Index keys: (index, partition, sort). Absent indexes leave the item out of them.
    pub indexes: Vec<(Index, String, String)>,
}

/// Encodes `value` and adds its keys, `entity` and `schema_version`.
pub fn envelope<T: serde::Serialize>(
    entity: &'static str,
    keys: ItemKeys,
    value: &T,
) -> Result<Item, StoreError> {
    let mut item = encode(entity, value)?;
    item.insert(PK.to_owned(), s(keys.pk));
    item.insert(SK.to_owned(), s(keys.sk));
    item.insert("entity".to_owned(), s(entity));
    item.insert("schema_version".to_owned(), n(SCHEMA_VERSION));
    for (index, pk, sk) in keys.indexes {
        item.insert(index.pk.to_owned(), s(pk));
        item.insert(index.sk.to_owned(), s(sk));
    }
    Ok(item)
}
