//! Session devices in the table: one item per device, pointing at its session.

use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem};

use super::items::{envelope, ItemKeys};
use super::{build, keys, Item, Store, StoreError};
use crate::domain::device::Device;
use crate::domain::ids::{DeviceId, SessionId};
use crate::domain::values::Tenancy;

/// Entity name of device items.
pub const DEVICE_ENTITY: &str = "session_device";

/// The item of a session device.
pub fn device_item(tenancy: &Tenancy, device: &Device) -> Result<Item, StoreError> {
    envelope(
        DEVICE_ENTITY,
        ItemKeys {
            pk: keys::device_pk(tenancy, device.id),
            sk: keys::DEVICE_SK.to_owned(),
            indexes: Vec::new(),
        },
        device,
    )
}

/// A Put of a device (new, or its redacted form).
pub(crate) fn put_device(
    store: &Store,
    tenancy: &Tenancy,
    device: &Device,
) -> Result<TransactWriteItem, StoreError> {
    let put = build(
        Put::builder()
            .table_name(store.table())
            .set_item(Some(device_item(tenancy, device)?))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A Delete of a device that a newer one replaces.
pub(crate) fn delete_device(
    store: &Store,
    tenancy: &Tenancy,
    id: DeviceId,
) -> Result<TransactWriteItem, StoreError> {
    let delete = build(
        Delete::builder()
            .table_name(store.table())
            .set_key(Some(Store::key(
                keys::device_pk(tenancy, id),
                keys::DEVICE_SK,
            )))
            .build(),
    )?;
    Ok(TransactWriteItem::builder().delete(delete).build())
}

impl Store {
    /// Reads a device.
    pub async fn get_device(
        &self,
        tenancy: &Tenancy,
        id: DeviceId,
    ) -> Result<Option<Device>, StoreError> {
        self.get_decoded(
            "reading a device",
            keys::device_pk(tenancy, id),
            keys::DEVICE_SK,
        )
        .await
    }

    /// The session a device was registered for (1 GetItem), for `filter[session_device]`.
    pub async fn device_session(
        &self,
        tenancy: &Tenancy,
        id: DeviceId,
    ) -> Result<Option<SessionId>, StoreError> {
        Ok(self.get_device(tenancy, id).await?.map(|d| d.session_id))
    }
}
