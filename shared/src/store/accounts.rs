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
use super::keys::{self, GSI1, GSI2, GSI3};
use super::query::{ListQuery, Page, PageRequest, Partition};
use super::{build, decode, n, s, Store, StoreError};
use crate::domain::account::{Account, AccountStatus};
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

    /// Writes a new account, claiming its external id in the same transaction.
    pub async fn create_account(
        &self,
        tenancy: &Tenancy,
        account: &Account,
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
        match self.transact("creating an account", ops).await {
            Err(e) if e.condition_failed_at(1) => Err(AccountWriteError::ExternalIdTaken),
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
    /// claim when it changed.
    pub async fn replace_account(
        &self,
        tenancy: &Tenancy,
        current: &Account,
        next: &Account,
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

/// A condition (in a transaction) that an account exists in this tenancy.
pub fn check_account_exists(
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
            .condition_expression("attribute_exists(pk)")
            .build(),
    )?;
    Ok(TransactWriteItem::builder().condition_check(check).build())
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
