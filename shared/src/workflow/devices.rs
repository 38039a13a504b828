//! Session devices: the applicant's device registers itself for a session. Registering
//! starts a `created` session, becomes the session's `session_device` (a newer registration
//! replaces and deletes the older device), and copies `behavior_analysis` onto the session,
//! all in one transaction.

use time::Duration;

use super::sessions::{attach_change, modify_session};
use super::WorkflowError;
use crate::domain::device::Device;
use crate::domain::event::Actor;
use crate::domain::validation::{ProblemKind, Problems};
use crate::domain::values::{Tenancy, Timestamp};
use crate::store::{Store, Write};

/// Registers `device` for its session (2 round trips: read the session, one transaction).
/// A session that does not exist here is a relationship problem of the request.
pub async fn register(
    store: &Store,
    tenancy: &Tenancy,
    device: &Device,
    actor: &Actor,
    now: Timestamp,
    lifetime: Duration,
) -> Result<(), WorkflowError> {
    let result = modify_session(store, tenancy, device.session_id, now, |current| {
        let mut change = attach_change(
            current,
            "register_device",
            "session_device",
            actor,
            now,
            lifetime,
            |s| {
                s.session_device_id = Some(device.id);
                s.behavior_analysis = device.behavior_analysis.clone();
            },
        )?;
        change.extra.push(Write::PutDevice(device.clone()));
        if let Some(old) = current.session_device_id {
            change.extra.push(Write::DeleteDevice(old));
        }
        Ok(Some(change))
    })
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(WorkflowError::NotFound) => {
            let mut p = Problems::default();
            p.push(
                ProblemKind::Relationship,
                "/data/relationships/session/data/id",
                "no such session",
            );
            Err(WorkflowError::Invalid(p))
        }
        Err(e) => Err(e),
    }
}
