//! Accounts in the table, with the claim item that keeps `external_id` unique per tenancy.
//!
//! Round trips: create = 1 transaction (account + external-id claim); get = 1 GetItem;
//! update = 1 transaction (conditional on version; moves the claim when the external id
//! changes); list = 1 Query (`filter[external_id]` reads the account's gsi2 entry).

use aws_sdk_dynamodb::types::{
    Delete, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use serde::{Deserialize, Serialize};

use super::items::{envelope, ItemKeys};
use super::keys::{self, GSI1, GSI2, GSI3, GSI4};
use super::query::{ListQuery, Page, PageRequest, Partition};
use super::{build, decode, n, s, Store, StoreError};
use crate::domain::account::{Account, AccountStatus};
use crate::domain::feed::FeedEvent;
use crate::domain::ids::AccountId;
use crate::domain::values::{Tenancy, Timestamp};

/// Entity name of account items.
pub const ENTITY: &str = "account";

/// The item of an account.
pub fn account_item(tenancy: &Tenancy, account: &Account) -> Result<super::Item, StoreError> {
    let pos = keys::position(account.created_at, &account.id);
    let mut indexes = vec![
        (GSI1, keys::accounts_pk(tenancy), pos.clone()),
        (
            GSI3,
            keys::accounts_by_status_pk(tenancy, account.status.as_str()),
            pos.clone(),
        ),
    ];
    if let Some(ext) = &account.external_id {
        indexes.push((GSI2, keys::external_id_pk(tenancy, ext), pos));
    }
    // While a redaction is in progress the sweep finds the account in gsi4.
    if let Some(progress) = &account.redaction {
        indexes.push((
            GSI4,
            keys::REDACTING_ACCOUNTS_PK.to_owned(),
            keys::work_position(progress.started_at, tenancy, &account.id),
        ));
    }
    envelope(
        ENTITY,
        ItemKeys {
            pk: keys::account_pk(tenancy, account.id),
            sk: keys::ACCOUNT_SK.to_owned(),
            indexes,
        },
        account,
    )
}

#[derive(Serialize, Deserialize)]
struct ExternalIdClaim {
    account_id: AccountId,
}

/// Why an account write was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountWriteError {
    /// Another account of the tenancy already uses this external id.
    #[error("the external id is taken")]
    ExternalIdTaken,
    /// The account changed since it was read.
    #[error("the account changed since it was read")]
    Stale,
    /// Anything else.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    fn claim_external_id(
        &self,
        tenancy: &Tenancy,
        external_id: &str,
        account: AccountId,
    ) -> Result<TransactWriteItem, StoreError> {
        let item = envelope(
            "external_id",
            ItemKeys {
                pk: keys::external_id_pk(tenancy, external_id),
                sk: keys::EXTERNAL_ID_SK.to_owned(),
                indexes: Vec::new(),
            },
            &ExternalIdClaim {
                account_id: account,
            },
        )?;
        let put = build(
            Put::builder()
                .table_name(self.table())
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn release_external_id(
        &self,
        tenancy: &Tenancy,
        external_id: &str,
        account: AccountId,
    ) -> Result<TransactWriteItem, StoreError> {
        let delete = build(
            Delete::builder()
                .table_name(self.table())
                .set_key(Some(Store::key(
                    keys::external_id_pk(tenancy, external_id),
                    keys::EXTERNAL_ID_SK,
                )))
                .condition_expression("account_id = :me")
                .expression_attribute_values(":me", s(account.to_string()))
                .build(),
        )?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    /// Writes a new account with its `account.created` feed event, claiming its external id
    /// in the same transaction.
    pub async fn create_account(
        &self,
        tenancy: &Tenancy,
        account: &Account,
        created: &FeedEvent,
    ) -> Result<(), AccountWriteError> {
        let put = build(
            Put::builder()
                .table_name(self.table())
                .set_item(Some(account_item(tenancy, account)?))
                .condition_expression("attribute_not_exists(pk)")
                .build(),
        )?;
        let mut ops = vec![TransactWriteItem::builder().put(put).build()];
        if let Some(ext) = &account.external_id {
            ops.push(self.claim_external_id(tenancy, ext, account.id)?);
        }
        // Last, so the claim stays at index 1.
        ops.push(super::feed::put_feed_event(self, tenancy, created)?);
        match self.transact("creating an account", ops).await {
            Err(e) if account.external_id.is_some() && e.condition_failed_at(1) => {
                Err(AccountWriteError::ExternalIdTaken)
            }
            other => Ok(other?),
        }
    }

    /// Reads an account (strongly consistent).
    pub async fn get_account(
        &self,
        tenancy: &Tenancy,
        id: AccountId,
    ) -> Result<Option<Account>, StoreError> {
        self.get_decoded(
            "reading an account",
            keys::account_pk(tenancy, id),
            keys::ACCOUNT_SK,
        )
        .await
    }

    /// Replaces `current` by `next` if its version is unchanged, moving the external-id
    /// claim when it changed, and writing `feed` (an `account.redacted` event) with it.
    pub async fn replace_account(
        &self,
        tenancy: &Tenancy,
        current: &Account,
        next: &Account,
        feed: Option<&FeedEvent>,
    ) -> Result<(), AccountWriteError> {
        let put = build(
            Put::builder()
                .table_name(self.table())
                .set_item(Some(account_item(tenancy, next)?))
                .condition_expression("#version = :version")
                .expression_attribute_names("#version", "version")
                .expression_attribute_values(":version", n(current.version))
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::None)
                .build(),
        )?;
        let mut ops = vec![TransactWriteItem::builder().put(put).build()];
        let mut claim_at = None;
        if current.external_id != next.external_id {
            if let Some(old) = &current.external_id {
                ops.push(self.release_external_id(tenancy, old, current.id)?);
            }
            if let Some(new) = &next.external_id {
                claim_at = Some(ops.len());
                ops.push(self.claim_external_id(tenancy, new, next.id)?);
            }
        }
        if let Some(event) = feed {
            ops.push(super::feed::put_feed_event(self, tenancy, event)?);
        }
        match self.transact("writing an account", ops).await {
            Ok(()) => Ok(()),
            Err(e) if e.condition_failed_at(0) => Err(AccountWriteError::Stale),
            Err(e) if claim_at.is_some_and(|i| e.condition_failed_at(i)) => {
                Err(AccountWriteError::ExternalIdTaken)
            }
            Err(StoreError::TransactionConflict) => Err(AccountWriteError::Stale),
            Err(e) => Err(e.into()),
        }
    }

    /// One page of accounts, newest first, optionally by external id or statuses.
    pub async fn list_accounts(
        &self,
        tenancy: &Tenancy,
        external_id: Option<&str>,
        statuses: &[AccountStatus],
        created: (Option<Timestamp>, Option<Timestamp>),
        page: &PageRequest,
    ) -> Result<Page<Account>, StoreError> {
        let partition = |index, pk| Partition {
            index: Some(index),
            pk,
            sk_prefix: String::new(),
            filter: None,
        };
        let mut filter = None;
        let partitions = match external_id {
            Some(ext) => {
                if !statuses.is_empty() {
                    filter = Some(super::query::Filter::one_of(
                        "acst",
                        "status",
                        &statuses
                            .iter()
                            .map(AccountStatus::as_str)
                            .collect::<Vec<_>>(),
                    ));
                }
                vec![partition(GSI2, keys::external_id_pk(tenancy, ext))]
            }
            None if !statuses.is_empty() => statuses
                .iter()
                .map(|st| partition(GSI3, keys::accounts_by_status_pk(tenancy, st.as_str())))
                .collect(),
            None => vec![partition(GSI1, keys::accounts_pk(tenancy))],
        };
        let query = ListQuery {
            partitions,
            ascending: false,
            from: created.0.map(|t| t.to_string()),
            to: created.1.map(|t| t.to_string()),
            filter,
        };
        self.list(&query, page)
            .await?
            .try_map(|item| decode("listing accounts", item))
    }
}

/// A condition (in a transaction) that an account exists in this tenancy and takes new
/// sessions and documents: no redaction started or finished. When it fails, DynamoDB returns
/// the account if it exists, and `write::refusal` tells the two cases apart.
///
/// This is what makes `409 account_redacted` race-free: a redaction starts with a write of
/// the account conditional on its version, so a transaction holding this check either
/// commits before it (and the redaction finds what it wrote) or is refused.
pub(crate) fn check_account_open(
    store: &Store,
    tenancy: &Tenancy,
    id: AccountId,
) -> Result<TransactWriteItem, StoreError> {
    let check = build(
        aws_sdk_dynamodb::types::ConditionCheck::builder()
            .table_name(store.table())
            .set_key(Some(Store::key(
                keys::account_pk(tenancy, id),
                keys::ACCOUNT_SK,
            )))
            .condition_expression(
                "attribute_exists(pk) \
                 AND (attribute_not_exists(#redacted_at) OR attribute_type(#redacted_at, :null)) \
                 AND (attribute_not_exists(#redaction) OR attribute_type(#redaction, :null))",
            )
            .expression_attribute_names("#redacted_at", "redacted_at")
            .expression_attribute_names("#redaction", "redaction")
            .expression_attribute_values(":null", s("NULL"))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build(),
    )?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
}

/// The open-child item recording that `kind` (`SESSION`, `DOCUMENT`) `id` is linked to
/// `account` and not yet redacted: written with the child, deleted by its redaction.
pub(crate) fn put_open_child(
    store: &Store,
    tenancy: &Tenancy,
    account: AccountId,
    kind: &str,
    id: &impl std::fmt::Display,
) -> Result<TransactWriteItem, StoreError> {
    let item = envelope(
        OPEN_CHILD_ENTITY,
        ItemKeys {
            pk: keys::account_pk(tenancy, account),
            sk: keys::open_child_sk(kind, id),
            indexes: Vec::new(),
        },
        &OpenChild {
            kind: kind.to_owned(),
            id: id.to_string(),
        },
    )?;
    let put = build(
        Put::builder()
            .table_name(store.table())
            .set_item(Some(item))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// Deletes the open-child item of `kind` `id` (absent already is fine).
pub(crate) fn delete_open_child(
    store: &Store,
    tenancy: &Tenancy,
    account: AccountId,
    kind: &str,
    id: &impl std::fmt::Display,
) -> Result<TransactWriteItem, StoreError> {
    let delete = build(
        Delete::builder()
            .table_name(store.table())
            .set_key(Some(Store::key(
                keys::account_pk(tenancy, account),
                keys::open_child_sk(kind, id),
            )))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

/// Entity name of open-child items.
pub const OPEN_CHILD_ENTITY: &str = "open_child";
/// Open-child kind of sessions.
pub const OPEN_SESSION: &str = "SESSION";
/// Open-child kind of documents.
pub const OPEN_DOCUMENT: &str = "DOCUMENT";

/// A session or document linked to an account and not yet redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenChild {
    /// [`OPEN_SESSION`] or [`OPEN_DOCUMENT`].
    pub kind: String,
    /// Its id.
    pub id: String,
}

impl Store {
    /// Up to `limit` open children of an account: 1 strongly consistent Query of the
    /// account's own partition, so a child written before the redaction started is always
    /// seen (gsi2, which lists an account's sessions, is only eventually consistent).
    pub async fn open_children(
        &self,
        tenancy: &Tenancy,
        account: AccountId,
        limit: i32,
    ) -> Result<Vec<OpenChild>, StoreError> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk AND begins_with(sk, :open)")
            .expression_attribute_values(":pk", s(keys::account_pk(tenancy, account)))
            .expression_attribute_values(":open", s(keys::OPEN_CHILD_SK_PREFIX))
            .consistent_read(true)
            .limit(limit)
            .send()
            .await
            .map_err(|e| super::sdk_error("reading an account's open children", e))?;
        out.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| decode("reading an account's open children", item))
            .collect()
    }

    /// Up to `limit` of an account's sessions or documents (`prefix`) that are not redacted,
    /// from gsi2: for children written before open-child items existed. Reads page after
    /// page (each at most 1 MB) until it has `limit` or the partition ends.
    pub async fn unredacted_children(
        &self,
        tenancy: &Tenancy,
        account: AccountId,
        prefix: &str,
        limit: usize,
    ) -> Result<Vec<super::Item>, StoreError> {
        let mut found = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client()
                .query()
                .table_name(self.table())
                .index_name(GSI2.name)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .filter_expression(
                    "attribute_not_exists(#redacted_at) OR attribute_type(#redacted_at, :null)",
                )
                .expression_attribute_names("#pk", GSI2.pk)
                .expression_attribute_names("#sk", GSI2.sk)
                .expression_attribute_names("#redacted_at", "redacted_at")
                .expression_attribute_values(":pk", s(keys::account_children_pk(tenancy, account)))
                .expression_attribute_values(":prefix", s(prefix))
                .expression_attribute_values(":null", s("NULL"))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| super::sdk_error("finding an account's unredacted children", e))?;
            found.extend(out.items.unwrap_or_default());
            start = out.last_evaluated_key;
            if found.len() >= limit || start.is_none() {
                found.truncate(limit);
                return Ok(found);
            }
        }
    }

    /// One page (at most `limit`) of accounts whose redaction is in progress, oldest first
    /// (gsi4, for the sweep): (scope, id).
    pub async fn redacting_accounts(
        &self,
        limit: i32,
    ) -> Result<Vec<(Tenancy, AccountId)>, StoreError> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(GSI4.name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", GSI4.pk)
            .expression_attribute_values(":pk", s(keys::REDACTING_ACCOUNTS_PK))
            .limit(limit)
            .send()
            .await
            .map_err(|e| super::sdk_error("finding redacting accounts", e))?;
        Ok(out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| item.get(GSI4.sk)?.as_s().ok())
            .filter_map(|pos| keys::parse_work_position(pos))
            .filter_map(|(_, tenancy, id)| Some((tenancy, AccountId::parse(&id).ok()?)))
            .collect())
    }
}

impl Store {
    /// The newest children of an account under `prefix` (sessions or documents), only the
    /// attributes `projection` names (`#id`, `#kind`): 1 Query on gsi2 for linkage.
    pub(crate) async fn newest_children(
        &self,
        tenancy: &Tenancy,
        account: AccountId,
        prefix: &str,
        projection: &str,
        limit: i32,
    ) -> Result<Vec<super::Item>, StoreError> {
        let mut req = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(GSI2.name)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", GSI2.pk)
            .expression_attribute_names("#sk", GSI2.sk);
        // DynamoDB refuses names the expressions do not use.
        for (ph, attr) in [("#id", "id"), ("#kind", "kind")] {
            if projection.contains(ph) {
                req = req.expression_attribute_names(ph, attr);
            }
        }
        let out = req
            .expression_attribute_values(":pk", s(keys::account_children_pk(tenancy, account)))
            .expression_attribute_values(":prefix", s(prefix))
            .projection_expression(projection)
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(|e| super::sdk_error("listing an account's children", e))?;
        Ok(out.items.unwrap_or_default())
    }

    /// The ids of an account's newest sessions (1 Query on gsi2, keys only), for linkage.
    pub async fn account_session_ids(
        &self,
        tenancy: &Tenancy,
        account: AccountId,
        limit: i32,
    ) -> Result<Vec<String>, StoreError> {
        let items = self
            .newest_children(tenancy, account, keys::CHILD_SESSION_PREFIX, "#id", limit)
            .await?;
        Ok(items
            .into_iter()
            .filter_map(|item| item.get("id").and_then(|v| v.as_s().ok()).cloned())
            .collect())
    }
}
