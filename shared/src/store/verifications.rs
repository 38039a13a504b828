//! Verifications and document-fingerprint sightings in the table.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde::{Deserialize, Serialize};

use super::items::{envelope, ItemKeys};
use super::keys::{self, GSI1, GSI3};
use super::query::{Filter, ListQuery, Page, PageRequest, Partition};
use super::{build, decode, s, Item, Store, StoreError};
use crate::domain::ids::{AccountId, DocumentId, SessionId, VerificationId};
use crate::domain::values::{Tenancy, Timestamp};
use crate::domain::verification::{Verification, VerificationStatus};

/// Entity name of verification items.
pub const ENTITY: &str = "verification";

/// Most fingerprint sightings one verification reads: one more than the sightings the
/// document and session being verified can hold themselves (their verification caps,
/// [`crate::domain::document::MAX_VERIFICATIONS`] and
/// [`crate::domain::session::MAX_VERIFICATIONS`]).
pub const SIGHTINGS_READ: usize =
    crate::domain::document::MAX_VERIFICATIONS + crate::domain::session::MAX_VERIFICATIONS + 1;

/// The item of a verification: listed for the tenancy (gsi1) and under its session (gsi3).
pub fn verification_item(tenancy: &Tenancy, v: &Verification) -> Result<Item, StoreError> {
    let pos = keys::position(v.created_at, &v.id);
    let mut indexes = vec![(GSI1, keys::verifications_pk(tenancy), pos.clone())];
    if let Some(session) = v.session_id {
        indexes.push((GSI3, keys::session_verifications_pk(tenancy, session), pos));
    }
    envelope(
        ENTITY,
        ItemKeys {
            pk: keys::verification_pk(tenancy, v.id),
            sk: keys::VERIFICATION_SK.to_owned(),
            indexes,
        },
        v,
    )
}

/// A Put of a verification (new, or its redacted form).
pub(crate) fn put_verification(
    store: &Store,
    tenancy: &Tenancy,
    v: &Verification,
) -> Result<TransactWriteItem, StoreError> {
    let put = build(
        Put::builder()
            .table_name(store.table())
            .set_item(Some(verification_item(tenancy, v)?))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// One sighting of a document fingerprint: which verification, session, account and
/// document saw it. Holds no personal data, so it outlives redaction on purpose.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    /// The verification that computed it.
    pub verification_id: VerificationId,
    /// Its document.
    pub document_id: DocumentId,
    /// Its session.
    pub session_id: Option<SessionId>,
    /// Its account.
    pub account_id: Option<AccountId>,
    /// When.
    pub seen_at: Timestamp,
}

/// A Put of a sighting.
pub(crate) fn put_sighting(
    store: &Store,
    tenancy: &Tenancy,
    fingerprint_hex: &str,
    sighting: &Sighting,
) -> Result<TransactWriteItem, StoreError> {
    let item = envelope(
        "fingerprint",
        ItemKeys {
            pk: keys::fingerprint_pk(tenancy, fingerprint_hex),
            sk: keys::fingerprint_sk(sighting.verification_id),
            indexes: Vec::new(),
        },
        sighting,
    )?;
    let put = build(
        Put::builder()
            .table_name(store.table())
            .set_item(Some(item))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// How to narrow a list of verifications.
#[derive(Debug, Clone, Default)]
pub struct VerificationFilter {
    /// Only this session's.
    pub session_id: Option<SessionId>,
    /// Only these results.
    pub statuses: Vec<VerificationStatus>,
    /// Created at or after.
    pub created_from: Option<Timestamp>,
    /// Created at or before.
    pub created_to: Option<Timestamp>,
}

impl Store {
    /// Reads a verification.
    pub async fn get_verification(
        &self,
        tenancy: &Tenancy,
        id: VerificationId,
    ) -> Result<Option<Verification>, StoreError> {
        self.get_decoded(
            "reading a verification",
            keys::verification_pk(tenancy, id),
            keys::VERIFICATION_SK,
        )
        .await
    }

    /// The newest sightings of a fingerprint, at most [`SIGHTINGS_READ`] (1 Query, newest
    /// first), so a document number seen thousands of times costs no more than one seen
    /// twice. Enough to find any sighting elsewhere: a document holds at most 100
    /// verifications and a session at most 100, so at most 200 sightings belong to the
    /// document and session being verified; the count of other sessions is then a lower
    /// bound.
    pub async fn sightings(
        &self,
        tenancy: &Tenancy,
        fingerprint_hex: &str,
    ) -> Result<Vec<Sighting>, StoreError> {
        let page = self
            .client()
            .query()
            .table_name(self.table())
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::fingerprint_pk(tenancy, fingerprint_hex)))
            .scan_index_forward(false)
            .limit(i32::try_from(SIGHTINGS_READ).unwrap_or(i32::MAX))
            .send()
            .await
            .map_err(|e| super::sdk_error("reading fingerprint sightings", e))?;
        page.items
            .unwrap_or_default()
            .into_iter()
            .map(|item| decode("reading fingerprint sightings", item))
            .collect()
    }

    /// One page of verifications, newest first.
    pub async fn list_verifications(
        &self,
        tenancy: &Tenancy,
        filter: &VerificationFilter,
        page: &PageRequest,
    ) -> Result<Page<Verification>, StoreError> {
        let partition = match filter.session_id {
            Some(session) => Partition {
                index: Some(GSI3),
                pk: keys::session_verifications_pk(tenancy, session),
                sk_prefix: String::new(),
                filter: None,
            },
            None => Partition {
                index: Some(GSI1),
                pk: keys::verifications_pk(tenancy),
                sk_prefix: String::new(),
                filter: None,
            },
        };
        let filter_expr = (!filter.statuses.is_empty()).then(|| {
            let statuses: Vec<&str> = filter
                .statuses
                .iter()
                .map(VerificationStatus::as_str)
                .collect();
            Filter::one_of("vst", "status", &statuses)
        });
        let query = ListQuery {
            partitions: vec![partition],
            ascending: false,
            from: filter.created_from.map(|t| t.to_string()),
            to: filter.created_to.map(|t| t.to_string()),
            filter: filter_expr,
        };
        self.list(&query, page)
            .await?
            .try_map(|item| decode("listing verifications", item))
    }
}
