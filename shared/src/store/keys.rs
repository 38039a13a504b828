//! Every partition, sort and index key of the single table, built here and nowhere else.
//!
//! The tenant and environment lead every partition key of tenant data (`acme#staging#…`), so
//! no key built for one scope can ever name an item of another: a foreign id simply does not
//! exist under the caller's keys. The only keys without a scope are the API-key and
//! client-token items, which are found by the hash of the secret before the scope is known.
//!
//! | item | pk | sk | gsi1 (lists) | gsi2 (children / lookups) | gsi3 (by status) |
//! |---|---|---|---|---|---|
//! | session | `T#SESSION#id` | `SESSION` | `T#SESSIONS` / pos | `T#ACCOUNT#acc` / `SESSION#pos` | `T#SESSIONS#STATUS#s` / pos |
//! | session event | `T#SESSION#id` | `EVENT#seq` | | | |
//! | account | `T#ACCOUNT#id` | `ACCOUNT` | `T#ACCOUNTS` / pos | `T#EXTERNAL_ID#ext` / `ACCOUNT` | `T#ACCOUNTS#STATUS#s` / pos |
//! | external-id claim | `T#EXTERNAL_ID#ext` | `EXTERNAL_ID` | | | |
//! | API key | `APIKEY#sha256` | `APIKEY` | `T#APIKEYS` / pos | `APIKEY_ID#key_id` / `APIKEY` | |
//! | client token | `CLIENTTOKEN#sha256` | `CLIENT_TOKEN` | pk / sk | pk / sk | pk / sk |
//! | document | `T#DOCUMENT#id` | `DOCUMENT` | `T#DOCUMENTS#kind` / pos | `T#ACCOUNT#acc` / `DOCUMENT#pos` | `T#SESSION#sess#DOCUMENTS` / pos |
//! | verification | `T#VERIFICATION#id` | `VERIFICATION` | `T#VERIFICATIONS` / pos | | `T#SESSION#sess#VERIFICATIONS` / pos |
//! | fingerprint sighting | `T#FINGERPRINT#hmac` | `SEEN#ver_id` | | | |
//! | session device | `T#DEVICE#id` | `DEVICE` | | | |
//! | idempotency record | `T#IDEMPOTENCY#sha256` | `IDEMPOTENCY` | | `T#IDEMPOTENT_FOR#id` / pos | |
//! | timer (expiry, retention) | `T#SESSION#id` | `TIMER#kind` | pk / sk | pk / sk | pk / sk |
//! | open child of an account | `T#ACCOUNT#acc` | `OPEN#SESSION#id`, `OPEN#DOCUMENT#id` | | | |
//! | feed event | `T#EVENT#evt` | `FEED_EVENT` | `T#EVENTS` / pos | pk / sk | `T#SESSION#sess#EVENTS` / pos (else pk / sk) |
//! | webhook endpoint | `T#WEBHOOK#whe` | `WEBHOOK_ENDPOINT` | `T#WEBHOOK_ENDPOINTS` / pos | | |
//! | endpoint count | `T#WEBHOOK_ENDPOINTS` | `COUNT` | | | |
//! | delivery attempt | `T#DELIVERY#whd` | `DELIVERY` | `T#WEBHOOK#whe#DELIVERIES` / pos | pk / sk | pk / sk |
//!
//! `T` is `tenant#environment`; `pos` is `created_at#id`, which sorts newest-last as text
//! because timestamps have a fixed width. gsi4 holds only timers (`store::timers`):
//! `TIMERS#kind#shard` / `due#T#id`, one partition per kind and shard, sorted by due time,
//! so the sweep finds due timers with a key condition. gsi4 also holds an account while its
//! redaction is in progress (`WORK#ACCOUNT_REDACTION` / `started#T#acc`) and a standalone
//! document until its retention has redacted it (`TIMERS#DOCUMENT_RETENTION#shard` /
//! `due#T#doc`), so the sweep finds those the same way. Timers also sit in gsi1–gsi3 under
//! their own pk/sk, which no query names: DynamoDB Local's TTL only deletes items that are
//! in every index (see `timers::timer_item`). Feed events and client tokens carry a TTL too, and so sit in
//! every index as well (`store::feed`): where no query names them (gsi2, gsi4, and gsi3 for
//! an event of no session) under their own pk/sk.

use crate::domain::ids::{
    AccountId, ApiKeyId, DeliveryId, DeviceId, DocumentId, EventId, SessionId, VerificationId,
    WebhookEndpointId,
};
use crate::domain::values::{Tenancy, Timestamp};

/// Partition key attribute.
pub const PK: &str = "pk";
/// Sort key attribute.
pub const SK: &str = "sk";
/// The TTL attribute (seconds since the epoch).
pub const TTL: &str = "ttl";

/// A global secondary index: its name and key attribute names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    /// Index name.
    pub name: &'static str,
    /// Partition key attribute.
    pub pk: &'static str,
    /// Sort key attribute.
    pub sk: &'static str,
}

/// Lists of a resource, newest first.
pub const GSI1: Index = Index {
    name: "gsi1",
    pk: "gsi1pk",
    sk: "gsi1sk",
};
/// Children of an account; unique lookups (external id, key id).
pub const GSI2: Index = Index {
    name: "gsi2",
    pk: "gsi2pk",
    sk: "gsi2sk",
};
/// A resource by status.
pub const GSI3: Index = Index {
    name: "gsi3",
    pk: "gsi3pk",
    sk: "gsi3sk",
};
/// Due timers across tenants (expiry and retention).
pub const GSI4: Index = Index {
    name: "gsi4",
    pk: "gsi4pk",
    sk: "gsi4sk",
};

/// All indexes, as the table definition creates them.
pub const INDEXES: [Index; 4] = [GSI1, GSI2, GSI3, GSI4];

/// The `tenant#environment` prefix of every scoped key.
pub fn tenancy_prefix(tenancy: &Tenancy) -> String {
    format!("{}#{}", tenancy.tenant, tenancy.environment)
}

/// The sort position of a listed item: creation time, then id.
pub fn position(created_at: Timestamp, id: &impl std::fmt::Display) -> String {
    format!("{created_at}#{id}")
}

/// Partition of a session and its events.
pub fn session_pk(tenancy: &Tenancy, id: SessionId) -> String {
    format!("{}#SESSION#{id}", tenancy_prefix(tenancy))
}
/// Sort key of the session item itself.
pub const SESSION_SK: &str = "SESSION";
/// Prefix of event sort keys.
pub const EVENT_SK_PREFIX: &str = "EVENT#";
/// Sort key of the event written by session version `seq` (zero-padded so text order is
/// numeric order).
pub fn event_sk(seq: u64) -> String {
    format!("{EVENT_SK_PREFIX}{seq:020}")
}
/// gsi1 partition listing every session of a scope.
pub fn sessions_pk(tenancy: &Tenancy) -> String {
    format!("{}#SESSIONS", tenancy_prefix(tenancy))
}
/// gsi3 partition of the sessions in one status.
pub fn sessions_by_status_pk(tenancy: &Tenancy, status: &str) -> String {
    format!("{}#SESSIONS#STATUS#{status}", tenancy_prefix(tenancy))
}
/// gsi2 partition of an account's children.
pub fn account_children_pk(tenancy: &Tenancy, account: AccountId) -> String {
    format!("{}#ACCOUNT#{account}", tenancy_prefix(tenancy))
}
/// Prefix of session sort keys within an account's children.
pub const CHILD_SESSION_PREFIX: &str = "SESSION#";

/// Prefix of the sort keys of an account's open children: one small item per session or
/// document linked to the account and not yet redacted, in the account's own partition, so
/// the account's redaction finds them with a strongly consistent Query (gsi2 lags).
pub const OPEN_CHILD_SK_PREFIX: &str = "OPEN#";
/// Sort key of the open-child item of `child` (`SESSION#sess_…`, `DOCUMENT#doc_…`).
pub fn open_child_sk(kind: &str, id: &impl std::fmt::Display) -> String {
    format!("{OPEN_CHILD_SK_PREFIX}{kind}#{id}")
}

/// Partition of an account.
pub fn account_pk(tenancy: &Tenancy, id: AccountId) -> String {
    format!("{}#ACCOUNT#{id}", tenancy_prefix(tenancy))
}
/// Sort key of the account item.
pub const ACCOUNT_SK: &str = "ACCOUNT";
/// gsi1 partition listing every account of a scope.
pub fn accounts_pk(tenancy: &Tenancy) -> String {
    format!("{}#ACCOUNTS", tenancy_prefix(tenancy))
}
/// gsi3 partition of the accounts in one status.
pub fn accounts_by_status_pk(tenancy: &Tenancy, status: &str) -> String {
    format!("{}#ACCOUNTS#STATUS#{status}", tenancy_prefix(tenancy))
}
/// Partition of the claim that makes an external id unique; also the account's gsi2 key.
pub fn external_id_pk(tenancy: &Tenancy, external_id: &str) -> String {
    format!("{}#EXTERNAL_ID#{external_id}", tenancy_prefix(tenancy))
}
/// Sort key of an external-id claim.
pub const EXTERNAL_ID_SK: &str = "EXTERNAL_ID";

/// Partition of a document.
pub fn document_pk(tenancy: &Tenancy, id: DocumentId) -> String {
    format!("{}#DOCUMENT#{id}", tenancy_prefix(tenancy))
}
/// Sort key of a document.
pub const DOCUMENT_SK: &str = "DOCUMENT";
/// gsi1 partition listing the documents of one kind.
pub fn documents_pk(tenancy: &Tenancy, kind: &str) -> String {
    format!("{}#DOCUMENTS#{kind}", tenancy_prefix(tenancy))
}
/// Prefix of document sort keys within an account's children (gsi2).
pub const CHILD_DOCUMENT_PREFIX: &str = "DOCUMENT#";
/// gsi3 partition of a session's documents.
pub fn session_documents_pk(tenancy: &Tenancy, session: SessionId) -> String {
    format!("{}#SESSION#{session}#DOCUMENTS", tenancy_prefix(tenancy))
}

/// Partition of a verification.
pub fn verification_pk(tenancy: &Tenancy, id: VerificationId) -> String {
    format!("{}#VERIFICATION#{id}", tenancy_prefix(tenancy))
}
/// Sort key of a verification.
pub const VERIFICATION_SK: &str = "VERIFICATION";
/// gsi1 partition listing every verification of a scope.
pub fn verifications_pk(tenancy: &Tenancy) -> String {
    format!("{}#VERIFICATIONS", tenancy_prefix(tenancy))
}
/// gsi3 partition of a session's verifications.
pub fn session_verifications_pk(tenancy: &Tenancy, session: SessionId) -> String {
    format!(
        "{}#SESSION#{session}#VERIFICATIONS",
        tenancy_prefix(tenancy)
    )
}
/// Partition of the sightings of one document fingerprint (HMAC of country, type and
/// number): the only trace of a document that survives redaction.
pub fn fingerprint_pk(tenancy: &Tenancy, fingerprint_hex: &str) -> String {
    format!("{}#FINGERPRINT#{fingerprint_hex}", tenancy_prefix(tenancy))
}
/// Sort key of one sighting: the verification that saw it.
pub fn fingerprint_sk(verification: VerificationId) -> String {
    format!("SEEN#{verification}")
}

/// Partition of one feed event (`store::feed`), read by id with a GetItem.
pub fn feed_event_pk(tenancy: &Tenancy, id: EventId) -> String {
    format!("{}#EVENT#{id}", tenancy_prefix(tenancy))
}
/// Sort key of a feed event.
pub const FEED_EVENT_SK: &str = "FEED_EVENT";
/// gsi1 partition of a scope's events feed, by position (`created_at#evt_…`).
pub fn feed_pk(tenancy: &Tenancy) -> String {
    format!("{}#EVENTS", tenancy_prefix(tenancy))
}
/// gsi3 partition of the feed events of one session, by position.
pub fn session_feed_pk(tenancy: &Tenancy, session: SessionId) -> String {
    format!("{}#SESSION#{session}#EVENTS", tenancy_prefix(tenancy))
}

/// Partition of a session device.
pub fn device_pk(tenancy: &Tenancy, id: DeviceId) -> String {
    format!("{}#DEVICE#{id}", tenancy_prefix(tenancy))
}
/// Sort key of a session device.
pub const DEVICE_SK: &str = "DEVICE";

/// Partition of an API key, found by the SHA-256 (hex) of its secret.
pub fn api_key_pk(secret_sha256_hex: &str) -> String {
    format!("APIKEY#{secret_sha256_hex}")
}
/// Sort key of an API key.
pub const API_KEY_SK: &str = "APIKEY";
/// Partition of a client token: like a key's, found by the SHA-256 of the secret.
pub fn client_token_pk(secret_sha256_hex: &str) -> String {
    format!("CLIENTTOKEN#{secret_sha256_hex}")
}
/// Sort key of a client token.
pub const CLIENT_TOKEN_SK: &str = "CLIENT_TOKEN";
/// gsi1 partition listing the keys of a scope.
pub fn api_keys_pk(tenancy: &Tenancy) -> String {
    format!("{}#APIKEYS", tenancy_prefix(tenancy))
}
/// gsi2 partition finding a key by its public id.
pub fn api_key_id_pk(id: ApiKeyId) -> String {
    format!("APIKEY_ID#{id}")
}

/// Partition of a key's rate-limit counter (`store::rate_limits`): by the key's public id,
/// global like the key items.
pub fn rate_limit_pk(id: ApiKeyId) -> String {
    format!("RATE#{id}")
}
/// Sort key of a rate-limit counter.
pub const RATE_LIMIT_SK: &str = "RATE";

/// Partition of an idempotency record (the key is hashed: it is caller-chosen text).
pub fn idempotency_pk(tenancy: &Tenancy, key_sha256_hex: &str) -> String {
    format!("{}#IDEMPOTENCY#{key_sha256_hex}", tenancy_prefix(tenancy))
}
/// gsi2 partition of the idempotency records whose stored body shows a resource.
pub fn idempotency_subject_pk(tenancy: &Tenancy, subject: &str) -> String {
    format!("{}#IDEMPOTENT_FOR#{subject}", tenancy_prefix(tenancy))
}
/// Sort key of an idempotency record.
pub const IDEMPOTENCY_SK: &str = "IDEMPOTENCY";

/// Prefix of timer sort keys: a session's timers live in the session's own partition.
pub const TIMER_SK_PREFIX: &str = "TIMER#";
/// Sort key of a session's timer of `kind` (`EXPIRY`, `RETENTION`).
pub fn timer_sk(kind: &str) -> String {
    format!("{TIMER_SK_PREFIX}{kind}")
}
/// How many gsi4 partitions each kind of timer is spread over. A handful keeps any one
/// partition far from DynamoDB's per-partition limits while the sweep still needs only a
/// few Queries.
pub const TIMER_SHARDS: u8 = 8;
/// The gsi4 shard of a session's timers: FNV-1a over the id, so it is stable across
/// builds and releases (std's hasher is not), and spreads because ULIDs end in random bits.
pub fn timer_shard(id: SessionId) -> u8 {
    let hash = id
        .to_string()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    // The remainder is below TIMER_SHARDS, so it fits.
    (hash % u64::from(TIMER_SHARDS)) as u8
}
/// gsi4 partition of the timers of `kind` in `shard`: deliberately not scoped to a tenant,
/// since the sweep looks for due timers across all of them.
pub fn timers_pk(kind: &str, shard: u8) -> String {
    format!("TIMERS#{kind}#{shard}")
}
/// gsi4 sort key of a timer: its due time first, so the due timers of a shard are one key
/// range, then the session's scope and id, which keep keys unique.
pub fn timer_position(due: Timestamp, tenancy: &Tenancy, id: SessionId) -> String {
    format!("{due}#{}#{id}", tenancy_prefix(tenancy))
}
/// gsi4 partition of the accounts whose redaction is in progress: an account sits there
/// (sorted by `started_at`) only while its `redaction` is set, and the sweep finishes it.
pub const REDACTING_ACCOUNTS_PK: &str = "WORK#ACCOUNT_REDACTION";
/// gsi4 partition of standalone documents by retention due time, in `shard` (the same
/// [`TIMER_SHARDS`] spread as timers).
pub fn document_retention_pk(shard: u8) -> String {
    format!("TIMERS#DOCUMENT_RETENTION#{shard}")
}
/// The shard of any id (FNV-1a, as [`timer_shard`]).
pub fn shard_of(id: &str) -> u8 {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    // The remainder is below TIMER_SHARDS, so it fits.
    (hash % u64::from(TIMER_SHARDS)) as u8
}
/// gsi4 sort key of a work item (a redacting account, a standalone document's retention):
/// due time, scope, id, like [`timer_position`].
pub fn work_position(due: Timestamp, tenancy: &Tenancy, id: &impl std::fmt::Display) -> String {
    format!("{due}#{}#{id}", tenancy_prefix(tenancy))
}
/// Reads a [`work_position`] back: due time, scope and the id as text.
pub fn parse_work_position(position: &str) -> Option<(Timestamp, Tenancy, String)> {
    let mut parts = position.splitn(4, '#');
    let due = Timestamp::parse(parts.next()?)?;
    let tenant = crate::domain::values::TenantId::parse(parts.next()?)?;
    let environment = crate::domain::values::Environment::parse(parts.next()?)?;
    Some((
        due,
        Tenancy {
            tenant,
            environment,
        },
        parts.next()?.to_owned(),
    ))
}

/// Reads a [`timer_position`] back.
pub fn parse_timer_position(position: &str) -> Option<(Timestamp, Tenancy, SessionId)> {
    let mut parts = position.splitn(4, '#');
    let due = Timestamp::parse(parts.next()?)?;
    let tenant = crate::domain::values::TenantId::parse(parts.next()?)?;
    let environment = crate::domain::values::Environment::parse(parts.next()?)?;
    let id = SessionId::parse(parts.next()?).ok()?;
    Some((
        due,
        Tenancy {
            tenant,
            environment,
        },
        id,
    ))
}
/// The exclusive upper bound of the positions of timers due at or before `now`: every
/// position due at `now` continues with `#` (0x23), and `$` (0x24) sorts right after it.
pub fn timers_due_bound(now: Timestamp) -> String {
    format!("{now}$")
}

/// Partition of a webhook endpoint.
pub fn webhook_endpoint_pk(tenancy: &Tenancy, id: WebhookEndpointId) -> String {
    format!("{}#WEBHOOK#{id}", tenancy_prefix(tenancy))
}
/// Sort key of a webhook endpoint.
pub const WEBHOOK_ENDPOINT_SK: &str = "WEBHOOK_ENDPOINT";
/// gsi1 partition listing a scope's endpoints; also the partition of their count.
pub fn webhook_endpoints_pk(tenancy: &Tenancy) -> String {
    format!("{}#WEBHOOK_ENDPOINTS", tenancy_prefix(tenancy))
}
/// Sort key of the endpoint count.
pub const WEBHOOK_COUNT_SK: &str = "COUNT";
/// Partition of one delivery attempt.
pub fn delivery_pk(tenancy: &Tenancy, id: DeliveryId) -> String {
    format!("{}#DELIVERY#{id}", tenancy_prefix(tenancy))
}
/// Sort key of a delivery attempt.
pub const DELIVERY_SK: &str = "DELIVERY";
/// gsi1 partition of an endpoint's deliveries, by position (`scheduled_at#whd_…`).
pub fn endpoint_deliveries_pk(tenancy: &Tenancy, endpoint: WebhookEndpointId) -> String {
    format!("{}#WEBHOOK#{endpoint}#DELIVERIES", tenancy_prefix(tenancy))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::values::{Environment, TenantId};

    fn tenancy(tenant: &str, environment: Environment) -> Tenancy {
        Tenancy {
            tenant: TenantId::parse(tenant).expect("tenant"),
            environment,
        }
    }

    #[test]
    fn scope_leads_every_tenant_key() {
        let s = tenancy("acme", Environment::Staging);
        let id = SessionId::parse("sess_01HQ0000000000000000000000").expect("id");
        let acc = AccountId::parse("acc_01HQ0000000000000000000000").expect("id");
        for key in [
            session_pk(&s, id),
            sessions_pk(&s),
            sessions_by_status_pk(&s, "created"),
            account_children_pk(&s, acc),
            account_pk(&s, acc),
            accounts_pk(&s),
            accounts_by_status_pk(&s, "active"),
            external_id_pk(&s, "user-1"),
            api_keys_pk(&s),
            idempotency_pk(&s, "ab"),
            feed_pk(&s),
            session_feed_pk(&s, id),
            feed_event_pk(
                &s,
                EventId::parse("evt_01HQ0000000000000000000000").expect("id"),
            ),
        ] {
            assert!(key.starts_with("acme#staging#"), "{key}");
        }
        assert_eq!(
            session_pk(&s, id),
            "acme#staging#SESSION#sess_01HQ0000000000000000000000"
        );
    }

    #[test]
    fn scopes_never_share_a_key() {
        let a = tenancy("acme", Environment::Staging);
        let b = tenancy("acme", Environment::Production);
        let c = tenancy("acme2", Environment::Staging);
        let id = SessionId::parse("sess_01HQ0000000000000000000000").expect("id");
        let keys = [session_pk(&a, id), session_pk(&b, id), session_pk(&c, id)];
        assert_ne!(keys[0], keys[1]);
        assert_ne!(keys[0], keys[2]);
        assert_ne!(keys[1], keys[2]);
    }

    #[test]
    fn event_keys_sort_numerically_and_positions_by_time() {
        assert!(event_sk(9) < event_sk(10));
        assert!(event_sk(99_999) < event_sk(100_000));
        let early = Timestamp::parse("2025-01-15T10:30:00Z").expect("ts");
        let late = Timestamp::parse("2025-01-15T10:30:00.001Z").expect("ts");
        let id = SessionId::parse("sess_01HQ0000000000000000000000").expect("id");
        assert!(position(early, &id) < position(late, &id));
    }

    #[test]
    fn timer_keys_round_trip_and_due_timers_form_a_key_range() {
        let s = tenancy("acme-2", Environment::Production);
        let id = SessionId::parse("sess_01HQ0000000000000000000000").expect("id");
        let due = Timestamp::parse("2025-01-15T10:30:00.250Z").expect("ts");
        let pos = timer_position(due, &s, id);
        assert_eq!(
            pos,
            "2025-01-15T10:30:00.250Z#acme-2#production#sess_01HQ0000000000000000000000"
        );
        assert_eq!(parse_timer_position(&pos), Some((due, s.clone(), id)));
        assert_eq!(parse_timer_position("2025-01-15T10:30:00.250Z#acme"), None);
        assert_eq!(timer_sk("EXPIRY"), "TIMER#EXPIRY");
        assert!(timer_sk("RETENTION").starts_with(TIMER_SK_PREFIX));
        assert_eq!(timers_pk("EXPIRY", 3), "TIMERS#EXPIRY#3");

        // Due at or before `now` is exactly `position < bound`, for any scope and id.
        let now = due;
        let earlier = Timestamp::parse("2025-01-15T10:30:00.249Z").expect("ts");
        let later = Timestamp::parse("2025-01-15T10:30:00.251Z").expect("ts");
        let z = tenancy("zz", Environment::Staging);
        let bound = timers_due_bound(now);
        assert!(timer_position(earlier, &z, id) < bound);
        assert!(timer_position(now, &z, id) < bound);
        assert!(timer_position(now, &s, id) < bound);
        assert!(timer_position(later, &s, id) > bound);
    }

    #[test]
    fn work_positions_round_trip() {
        let s = tenancy("acme-2", Environment::Production);
        let due = Timestamp::parse("2025-01-15T10:30:00.250Z").expect("ts");
        let pos = work_position(due, &s, &"acc_01HQ0000000000000000000000");
        assert_eq!(
            parse_work_position(&pos),
            Some((due, s, "acc_01HQ0000000000000000000000".to_owned()))
        );
        assert_eq!(parse_work_position("2025-01-15T10:30:00.250Z#acme"), None);
        assert!(
            work_position(due, &tenancy("a", Environment::Staging), &"x") < timers_due_bound(due)
        );
        assert_eq!(open_child_sk("SESSION", &"sess_1"), "OPEN#SESSION#sess_1");
        assert!(shard_of("doc_01HQ0000000000000000000000") < TIMER_SHARDS);
    }

    #[test]
    fn timer_shards_are_stable_and_spread() {
        let id = SessionId::parse("sess_01HQ0000000000000000000000").expect("id");
        assert_eq!(timer_shard(id), timer_shard(id));
        let mut counts = [0u32; TIMER_SHARDS as usize];
        let start = time::OffsetDateTime::now_utc();
        for i in 0..800 {
            let id = SessionId::new(start + time::Duration::milliseconds(i));
            counts[usize::from(timer_shard(id))] += 1;
        }
        assert!(counts.iter().all(|&c| c > 50), "{counts:?}");
    }
}
