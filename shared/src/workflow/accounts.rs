//! Accounts: creation (with the claim that keeps `external_id` unique per tenancy) and
//! merge patches, refused once a redaction has begun.

use super::{Attempts, WorkflowError};
use crate::domain::account::Account;
use crate::domain::event::Actor;
use crate::domain::feed::FeedEvent;
use crate::domain::ids::AccountId;
use crate::domain::validation::Problems;
use crate::domain::values::{Tenancy, Timestamp};
use crate::store::accounts::AccountWriteError;
use crate::store::Store;

impl From<AccountWriteError> for WorkflowError {
    fn from(e: AccountWriteError) -> Self {
        match e {
            AccountWriteError::ExternalIdTaken => WorkflowError::ExternalIdTaken,
            AccountWriteError::Stale => WorkflowError::Conflict,
            AccountWriteError::Store(e) => WorkflowError::Store(e),
        }
    }
}

/// Writes a new account, claims its external id and reports `account.created` to the feed
/// (one transaction).
pub async fn create(
    store: &Store,
    tenancy: &Tenancy,
    account: &Account,
    actor: &Actor,
) -> Result<(), WorkflowError> {
    let created = FeedEvent::account("account.created", account, actor);
    Ok(store.create_account(tenancy, account, &created).await?)
}

/// Applies a merge patch (`patch` gives the patched account, or `None` when it changes
/// nothing) conditionally on the version read; the account as it is afterwards.
pub async fn update<P>(
    store: &Store,
    tenancy: &Tenancy,
    id: AccountId,
    patch: P,
) -> Result<Account, WorkflowError>
where
    P: Fn(&Account, Timestamp) -> Result<Option<Account>, Problems>,
{
    let mut attempts = Attempts::new();
    while attempts.next().await {
        let current = store
            .get_account(tenancy, id)
            .await?
            .ok_or(WorkflowError::NotFound)?;
        // Its data is gone (or going): nothing may be written back into it. The write
        // below is conditional on the version read, and starting a redaction bumps it.
        if current.is_redacting_or_redacted() {
            return Err(WorkflowError::AccountRedacted);
        }
        let Some(next) = patch(&current, Timestamp::now()).map_err(WorkflowError::Invalid)? else {
            return Ok(current);
        };
        match store.replace_account(tenancy, &current, &next, None).await {
            Ok(()) => return Ok(next),
            Err(AccountWriteError::Stale) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(WorkflowError::Conflict)
}
