//! Documents and session devices in the table.
//!
//! A document is listed per kind (gsi1), under its account (gsi2, `DOCUMENT#pos`) and under
//! its session (gsi3). Its writes are conditional on its version, like sessions'.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::items::{envelope, ItemKeys};
use super::keys::{self, GSI1, GSI2, GSI3, GSI4};
use super::query::{Filter, ListQuery, Page, PageRequest, Partition};
use super::{build, decode, n, s, Item, Store, StoreError};
use crate::domain::document::{Document, DocumentKind, DocumentStatus};
use crate::domain::ids::{AccountId, DocumentId, SessionId};
use crate::domain::values::Tenancy;

/// Entity name of document items.
pub const ENTITY: &str = "document";

fn kind_name(kind: DocumentKind) -> &'static str {
    match kind {
        DocumentKind::Idv => "idv",
        DocumentKind::Address => "address",
    }
}

/// The item of a document.
pub fn document_item(tenancy: &Tenancy, doc: &Document) -> Result<Item, StoreError> {
    let pos = keys::position(doc.created_at, &doc.id);
    let mut indexes = vec![(
        GSI1,
        keys::documents_pk(tenancy, kind_name(doc.kind)),
        pos.clone(),
    )];
    if let Some(account) = doc.account_id {
        indexes.push((
            GSI2,
            keys::account_children_pk(tenancy, account),
            format!("{}{pos}", keys::CHILD_DOCUMENT_PREFIX),
        ));
    }
    if let Some(session) = doc.session_id {
        indexes.push((GSI3, keys::session_documents_pk(tenancy, session), pos));
    }
    envelope(
        ENTITY,
        ItemKeys {
            pk: keys::document_pk(tenancy, doc.id),
            sk: keys::DOCUMENT_SK.to_owned(),
            indexes,
        },
        doc,
    )
}

/// When retention redacts a standalone document (one of no session; a session's documents
/// go with their session): the environment's retention after its last change, or at once
/// when a redaction was left half done (the data is gone, its files not yet). `None` for
/// documents of a session, those fully redacted, and environments kept forever.
pub fn retention_due(
    retention: &super::timers::Retention,
    tenancy: &Tenancy,
    doc: &Document,
) -> Option<crate::domain::values::Timestamp> {
    if doc.session_id.is_some() || doc.files_deleted_at.is_some() {
        return None;
    }
    if let Some(at) = doc.redacted_at {
        return Some(at);
    }
    Some(
        doc.updated_at
            .add(retention.for_environment(tenancy.environment)?),
    )
}

/// The document's item as `store` writes it: [`document_item`] plus, for a standalone
/// document under retention, its gsi4 entry (`TIMERS#DOCUMENT_RETENTION#shard` / due), where
/// the sweep finds it once due. Every write of the document moves or removes that entry.
fn stored_document_item(
    store: &Store,
    tenancy: &Tenancy,
    doc: &Document,
) -> Result<Item, StoreError> {
    let mut item = document_item(tenancy, doc)?;
    if let Some(due) = retention_due(&store.retention(), tenancy, doc) {
        let id = doc.id.to_string();
        item.insert(
            GSI4.pk.to_owned(),
            s(keys::document_retention_pk(keys::shard_of(&id))),
        );
        item.insert(
            GSI4.sk.to_owned(),
            s(keys::work_position(due, tenancy, &id)),
        );
    }
    Ok(item)
}

/// A Put of a new document.
pub(crate) fn put_new_document(
    store: &Store,
    tenancy: &Tenancy,
    doc: &Document,
) -> Result<TransactWriteItem, StoreError> {
    let put = build(
        Put::builder()
            .table_name(store.table())
            .set_item(Some(stored_document_item(store, tenancy, doc)?))
            .condition_expression("attribute_not_exists(pk)")
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A Put of `next` that only succeeds if the stored document still has `expected`'s version.
pub(crate) fn put_document_if_unchanged(
    store: &Store,
    tenancy: &Tenancy,
    expected: &Document,
    next: &Document,
) -> Result<TransactWriteItem, StoreError> {
    let put = build(
        Put::builder()
            .table_name(store.table())
            .set_item(Some(stored_document_item(store, tenancy, next)?))
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(expected.version))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// How to narrow a list of documents.
#[derive(Debug, Clone, Default)]
pub struct DocumentFilter {
    /// Only this session's.
    pub session_id: Option<SessionId>,
    /// Only this account's.
    pub account_id: Option<AccountId>,
    /// Only these statuses.
    pub statuses: Vec<DocumentStatus>,
}

impl Store {
    /// Reads a document (strongly consistent).
    pub async fn get_document(
        &self,
        tenancy: &Tenancy,
        id: DocumentId,
    ) -> Result<Option<Document>, StoreError> {
        self.get_decoded(
            "reading a document",
            keys::document_pk(tenancy, id),
            keys::DOCUMENT_SK,
        )
        .await
    }

    /// Replaces `current` by `next` if its version is unchanged; `Ok(false)` if it changed.
    pub async fn replace_document(
        &self,
        tenancy: &Tenancy,
        current: &Document,
        next: &Document,
    ) -> Result<bool, StoreError> {
        let op = put_document_if_unchanged(self, tenancy, current, next)?;
        match self.transact("writing a document", vec![op]).await {
            Ok(()) => Ok(true),
            Err(e) if e.condition_failed_at(0) => Ok(false),
            Err(StoreError::TransactionConflict) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// One page of documents of `kind`, newest first.
    pub async fn list_documents(
        &self,
        tenancy: &Tenancy,
        kind: DocumentKind,
        filter: &DocumentFilter,
        page: &PageRequest,
    ) -> Result<Page<Document>, StoreError> {
        // The kind needs a filter only where the partition mixes kinds (a session's or an
        // account's documents): a filter makes each Query read up to 100 items.
        let of_kind = Filter {
            expression: "#f_kind = :f_kind".into(),
            names: [("#f_kind".to_owned(), "kind".to_owned())].into(),
            values: [(":f_kind".to_owned(), s(kind_name(kind)))].into(),
        };
        let mut f = Filter::default();
        let partition = if let Some(session) = filter.session_id {
            f = f.and(of_kind);
            if let Some(account) = filter.account_id {
                f = f.and(Filter {
                    expression: "#f_acc = :f_acc".into(),
                    names: [("#f_acc".to_owned(), "account_id".to_owned())].into(),
                    values: [(":f_acc".to_owned(), s(account.to_string()))].into(),
                });
            }
            Partition {
                index: Some(GSI3),
                pk: keys::session_documents_pk(tenancy, session),
                sk_prefix: String::new(),
                filter: None,
            }
        } else if let Some(account) = filter.account_id {
            f = f.and(of_kind);
            Partition {
                index: Some(GSI2),
                pk: keys::account_children_pk(tenancy, account),
                sk_prefix: keys::CHILD_DOCUMENT_PREFIX.to_owned(),
                filter: None,
            }
        } else {
            Partition {
                index: Some(GSI1),
                pk: keys::documents_pk(tenancy, kind_name(kind)),
                sk_prefix: String::new(),
                filter: None,
            }
        };
        if !filter.statuses.is_empty() {
            let statuses: Vec<&str> = filter.statuses.iter().map(DocumentStatus::as_str).collect();
            f = f.and(Filter::one_of("dst", "status", &statuses));
        }
        let query = ListQuery {
            partitions: vec![partition],
            ascending: false,
            from: None,
            to: None,
            filter: (!f.expression.is_empty()).then_some(f),
        };
        self.list(&query, page)
            .await?
            .try_map(|item| decode("listing documents", item))
    }

    /// Every document linked to an account directly (for the redaction cascade).
    pub async fn account_documents(
        &self,
        tenancy: &Tenancy,
        account: AccountId,
    ) -> Result<Vec<Document>, StoreError> {
        let query = ListQuery {
            partitions: vec![Partition {
                index: Some(GSI2),
                pk: keys::account_children_pk(tenancy, account),
                sk_prefix: keys::CHILD_DOCUMENT_PREFIX.to_owned(),
                filter: None,
            }],
            ascending: false,
            from: None,
            to: None,
            filter: None,
        };
        self.list_all(&query)
            .await?
            .into_iter()
            .map(|item| decode("listing documents", item))
            .collect()
    }

    /// One page (at most `limit`) of standalone documents in gsi4 `shard` whose retention is
    /// due at `now`, earliest first, as (scope, id): a Query with a key condition, for the
    /// sweep. gsi4 lags, so whoever acts reads the document again.
    pub async fn due_documents(
        &self,
        shard: u8,
        now: crate::domain::values::Timestamp,
        limit: i32,
        start: Option<Item>,
    ) -> Result<(Vec<(Tenancy, DocumentId)>, Option<Item>), StoreError> {
        let out = self
            .client()
            .query()
            .table_name(self.table())
            .index_name(GSI4.name)
            .key_condition_expression("#pk = :pk AND #sk < :bound")
            .expression_attribute_names("#pk", GSI4.pk)
            .expression_attribute_names("#sk", GSI4.sk)
            .expression_attribute_values(":pk", s(keys::document_retention_pk(shard)))
            .expression_attribute_values(":bound", s(keys::timers_due_bound(now)))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| super::sdk_error("finding documents due for retention", e))?;
        let found = out
            .items
            .unwrap_or_default()
            .iter()
            .filter_map(|item| item.get(GSI4.sk)?.as_s().ok())
            .filter_map(|pos| keys::parse_work_position(pos))
            .filter_map(|(_, tenancy, id)| Some((tenancy, DocumentId::parse(&id).ok()?)))
            .collect();
        Ok((found, out.last_evaluated_key))
    }

    /// The newest documents of an account as (kind, id), for linkage (1 Query).
    pub async fn account_document_refs(
        &self,
        tenancy: &Tenancy,
        account: AccountId,
        limit: i32,
    ) -> Result<Vec<crate::domain::session::DocumentRef>, StoreError> {
        self.newest_children(
            tenancy,
            account,
            keys::CHILD_DOCUMENT_PREFIX,
            "#id, #kind",
            limit,
        )
        .await?
        .into_iter()
        .map(|item| decode("listing an account's documents", item))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::values::{Environment, TenantId, Timestamp};

    fn doc(session: bool) -> Document {
        let now = Timestamp::parse("2025-01-15T10:30:00Z").expect("ts");
        Document::pending(
            DocumentId::parse("doc_01HQ0000000000000000000000").expect("id"),
            DocumentKind::Idv,
            None,
            session.then(|| SessionId::parse("sess_01HQ0000000000000000000000").expect("id")),
            None,
            Vec::new(),
            now,
        )
    }

    #[test]
    fn standalone_documents_are_due_their_retention_after_their_last_change() {
        let tenancy = Tenancy {
            tenant: TenantId::parse("acme").expect("tenant"),
            environment: Environment::Staging,
        };
        let retention = super::super::timers::Retention {
            production: None,
            staging: Some(time::Duration::hours(1)),
        };
        let d = doc(false);
        assert_eq!(
            retention_due(&retention, &tenancy, &d),
            Some(d.updated_at.add(time::Duration::hours(1)))
        );
        // A session's documents go with their session; no retention keeps them forever.
        assert_eq!(retention_due(&retention, &tenancy, &doc(true)), None);
        assert_eq!(
            retention_due(&super::super::timers::Retention::default(), &tenancy, &d),
            None
        );
        // Half redacted: due at once, whatever the policy; fully redacted: never again.
        let mut half = d.redacted(d.updated_at).expect("redacts");
        assert_eq!(
            retention_due(&super::super::timers::Retention::default(), &tenancy, &half),
            half.redacted_at
        );
        half.files_deleted_at = half.redacted_at;
        assert_eq!(retention_due(&retention, &tenancy, &half), None);
    }
}
