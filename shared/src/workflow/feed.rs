//! Reading the events feed (`domain::feed`). Nothing here writes: every feed event is
//! written by the use case whose change it reports, in that change's transaction.

use super::WorkflowError;
use crate::domain::feed::FeedEvent;
use crate::domain::ids::EventId;
use crate::domain::values::{Tenancy, Timestamp};
use crate::store::feed::FeedFilter;
use crate::store::query::{Page, PageRequest};
use crate::store::Store;

/// One event of the tenancy, if it exists and is within its 30 days.
pub async fn get(
    store: &Store,
    tenancy: &Tenancy,
    id: EventId,
    now: Timestamp,
) -> Result<Option<FeedEvent>, WorkflowError> {
    Ok(store.get_feed_event(tenancy, id, now).await?)
}

/// One page of the tenancy's feed, newest first.
pub async fn list(
    store: &Store,
    tenancy: &Tenancy,
    filter: &FeedFilter,
    now: Timestamp,
    page: &PageRequest,
) -> Result<Page<FeedEvent>, WorkflowError> {
    Ok(store.list_feed(tenancy, filter, now, page).await?)
}
