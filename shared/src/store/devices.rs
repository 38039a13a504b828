//! Session devices in the table.

use serde::Deserialize;

use super::{decode, keys, Store, StoreError};
use crate::domain::ids::{DeviceId, SessionId};
use crate::domain::values::Tenancy;

#[derive(Deserialize)]
struct DeviceLink {
    session_id: SessionId,
}

impl Store {
    /// The session a device was registered for (1 GetItem), for `filter[session_device]`.
    pub async fn device_session(
        &self,
        tenancy: &Tenancy,
        id: DeviceId,
    ) -> Result<Option<SessionId>, StoreError> {
        Ok(self
            .get_item(
                "reading a device",
                keys::device_pk(tenancy, id),
                keys::DEVICE_SK,
            )
            .await?
            .map(|item| decode::<DeviceLink>("reading a device", item))
            .transpose()?
            .map(|d| d.session_id))
    }
}
