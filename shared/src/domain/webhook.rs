//! Webhook endpoints and their deliveries (API.md §8): which events an endpoint hears, how a
//! delivery is signed (the Standard Webhooks specification), when a failed one is tried
//! again, and when an endpoint that keeps failing is switched off.
//!
//! Pure rules only. Sealing secrets, vetting addresses and sending live in
//! `crate::webhooks`; the items in `store::webhooks`; the use cases in
//! `workflow::webhooks`.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use time::Duration;

use super::feed::TypeFilter;
use super::ids::{DeliveryId, EventId, WebhookEndpointId};
use super::values::Timestamp;

/// At most this many endpoints per tenant and environment.
pub const MAX_ENDPOINTS: u32 = 16;

/// The prefix of a signing secret as shown to integrators.
pub const SECRET_PREFIX: &str = "whsec_";

/// Bytes of a signing secret (from the OS RNG).
pub const SECRET_BYTES: usize = 32;

/// Longest accepted URL.
pub const URL_MAX: usize = 2048;

/// Longest description.
pub const DESCRIPTION_MAX: usize = 500;

/// How much of a receiver's answer a delivery record keeps.
pub const RESPONSE_BODY_MAX: usize = 1024;

/// Whether an endpoint receives deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndpointStatus {
    /// Deliveries are sent.
    Enabled,
    /// Nothing is sent (by the integrator's choice, or after failing for too long).
    Disabled,
}

impl EndpointStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            EndpointStatus::Enabled => "enabled",
            EndpointStatus::Disabled => "disabled",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<EndpointStatus> {
        match s {
            "enabled" => Some(EndpointStatus::Enabled),
            "disabled" => Some(EndpointStatus::Disabled),
            _ => None,
        }
    }
}

/// One entry of `enabled_events`: `*`, an event type, or a group (`session.*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSelector {
    /// Every event.
    All,
    /// A type or a group.
    Types(TypeFilter),
}

impl EventSelector {
    /// Parses one entry; `None` for anything the feed cannot hold.
    pub fn parse(s: &str) -> Option<EventSelector> {
        if s == "*" {
            return Some(EventSelector::All);
        }
        TypeFilter::parse(s).map(EventSelector::Types)
    }

    /// Whether an event of type `t` passes.
    pub fn matches(&self, t: &str) -> bool {
        match self {
            EventSelector::All => true,
            EventSelector::Types(f) => f.matches(t),
        }
    }
}

/// A signing secret sealed for storage (`crate::webhooks::seal`): what the table holds, so
/// a dump of it reveals no secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SealedSecret(pub String);

/// A secret replaced by a rotation, still signing until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousSecret {
    /// The old secret, sealed.
    pub secret: SealedSecret,
    /// When it stops signing.
    pub until: Timestamp,
}

/// A webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    /// `whe_…`.
    pub id: WebhookEndpointId,
    /// Where deliveries go.
    pub url: String,
    /// What it hears, as given (each entry parses as an [`EventSelector`]).
    pub enabled_events: Vec<String>,
    /// Enabled or disabled.
    pub status: EndpointStatus,
    /// Why the service disabled it, if it did (`failing`).
    pub disabled_reason: Option<String>,
    /// A label for humans.
    pub description: Option<String>,
    /// The current signing secret, sealed.
    pub secret: SealedSecret,
    /// The secret before the last rotation, during its overlap.
    pub previous_secret: Option<PreviousSecret>,
    /// Since when every attempt has failed (cleared by a success).
    pub failing_since: Option<Timestamp>,
    /// Creation time.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Bumped by every write; writes are conditional on it.
    pub version: u64,
}

impl Endpoint {
    /// Whether an event of type `t` goes to this endpoint (it is enabled and subscribed).
    pub fn wants(&self, t: &str) -> bool {
        self.status == EndpointStatus::Enabled
            && self
                .enabled_events
                .iter()
                .filter_map(|s| EventSelector::parse(s))
                .any(|s| s.matches(t))
    }

    /// The previous secret, if it still signs at `now`.
    pub fn previous_signing(&self, now: Timestamp) -> Option<&SealedSecret> {
        self.previous_secret
            .as_ref()
            .filter(|p| p.until > now)
            .map(|p| &p.secret)
    }
}

/// A fresh signing secret: [`SECRET_BYTES`] from the OS RNG.
pub fn new_secret() -> Result<[u8; SECRET_BYTES], getrandom::Error> {
    let mut bytes = [0u8; SECRET_BYTES];
    getrandom::fill(&mut bytes)?;
    Ok(bytes)
}

/// The secret as integrators see it: `whsec_` + standard base64 of its bytes.
pub fn secret_text(bytes: &[u8]) -> String {
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(bytes)
    )
}

/// The bytes of a `whsec_…` secret.
pub fn secret_bytes(text: &str) -> Option<Vec<u8>> {
    let b64 = text.strip_prefix(SECRET_PREFIX)?;
    base64::engine::general_purpose::STANDARD.decode(b64).ok()
}

/// One `v1,` signature of the Standard Webhooks specification: base64 of HMAC-SHA256 over
/// `"{msg_id}.{timestamp}.{body}"`, keyed by the secret's bytes.
pub fn sign(secret: &[u8], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC takes keys of any length; this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// The `webhook-signature` header: one space-separated signature per secret (the current
/// one first, then a rotated one during its overlap).
pub fn signature_header(secrets: &[&[u8]], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets
        .iter()
        .map(|s| sign(s, msg_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a delivery sequence started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// The event happened (fan-out).
    Event,
    /// `POST /events/{id}/redeliver`.
    Redeliver,
    /// `POST /webhook-endpoints/{id}/replay`.
    Replay,
}

impl Origin {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Origin::Event => "event",
            Origin::Redeliver => "redeliver",
            Origin::Replay => "replay",
        }
    }
}

/// The outcome of one attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Scheduled or in flight.
    Pending,
    /// The receiver answered 2xx in time.
    Succeeded,
    /// Anything else.
    Failed,
}

impl DeliveryStatus {
    /// The wire name.
    pub fn as_str(&self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Succeeded => "succeeded",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Parses the wire name.
    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "succeeded" => Some(DeliveryStatus::Succeeded),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One attempt to deliver one event to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// `whd_…`, derived from (endpoint, event, sequence, attempt): a duplicate message
    /// finds the same record.
    pub id: DeliveryId,
    /// The endpoint.
    pub endpoint_id: WebhookEndpointId,
    /// The event (also the `webhook-id` header).
    pub event_id: EventId,
    /// Its type.
    pub event_type: String,
    /// Why this sequence of attempts exists.
    pub origin: Origin,
    /// The sequence: `event` for the event's own, a ULID for a redelivery or replay.
    pub sequence: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Pending, succeeded or failed.
    pub status: DeliveryStatus,
    /// When the attempt was due.
    pub scheduled_at: Timestamp,
    /// When it was made.
    pub attempted_at: Option<Timestamp>,
    /// The receiver's HTTP status.
    pub response_status: Option<u16>,
    /// Milliseconds from connect to the answer.
    pub duration_ms: Option<u64>,
    /// The first [`RESPONSE_BODY_MAX`] bytes of the answer (lossy UTF-8).
    pub response_body: Option<String>,
    /// Why it failed, as a stable code (`http_status`, `timeout`, `connect_failed`,
    /// `address_refused`, `dns_failed`, `redirect`, `tls_failed`, `endpoint_disabled`,
    /// `event_expired`).
    pub error: Option<String>,
    /// When the next attempt is due, if there is one.
    pub next_attempt_at: Option<Timestamp>,
    /// An in-flight attempt owns the record until then (a crashed one is taken over).
    pub lease_until: Option<Timestamp>,
}

impl Delivery {
    /// The id of attempt `attempt` of `sequence` of `event` to `endpoint`, scheduled at
    /// `at`: the time is the ULID's time, the rest a hash, so it is the same on every
    /// duplicate of the message.
    pub fn derive_id(
        endpoint: WebhookEndpointId,
        event: EventId,
        sequence: &str,
        attempt: u32,
        at: Timestamp,
    ) -> DeliveryId {
        let digest = Sha256::new()
            .chain_update(endpoint.to_string())
            .chain_update(b"\0")
            .chain_update(event.to_string())
            .chain_update(b"\0")
            .chain_update(sequence)
            .chain_update(b"\0")
            .chain_update(attempt.to_be_bytes())
            .finalize();
        let mut random = [0u8; 16];
        random[6..].copy_from_slice(&digest[..10]);
        let ms = u64::try_from(at.datetime().unix_timestamp_nanos() / 1_000_000).unwrap_or(0);
        DeliveryId::from_ulid(ulid::Ulid::from_parts(ms, u128::from_be_bytes(random)))
    }
}

/// The delays between attempts (API.md §8: about 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h;
/// eight attempts in all), and the failing window after which an endpoint is disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay before attempt n + 2 (index 0: between the first and the second).
    pub delays: Vec<Duration>,
    /// An endpoint whose every attempt failed for this long is disabled.
    pub disable_after: Duration,
    /// How long a rotated secret keeps signing.
    pub rotation_overlap: Duration,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            delays: [5, 300, 1_800, 7_200, 18_000, 36_000, 36_000]
                .into_iter()
                .map(Duration::seconds)
                .collect(),
            disable_after: Duration::days(5),
            rotation_overlap: Duration::hours(24),
        }
    }
}

impl RetryPolicy {
    /// The delay after a failed attempt `attempt` (1-based), or `None` when it was the last.
    pub fn next_delay(&self, attempt: u32) -> Option<Duration> {
        let i = usize::try_from(attempt).ok()?.checked_sub(1)?;
        self.delays.get(i).copied()
    }

    /// Attempts in all.
    pub fn attempts(&self) -> u32 {
        u32::try_from(self.delays.len()).unwrap_or(u32::MAX - 1) + 1
    }

    /// Whether an endpoint failing since `since` must be disabled at `now`.
    pub fn must_disable(&self, since: Timestamp, now: Timestamp) -> bool {
        now.datetime() - since.datetime() >= self.disable_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_standard_webhooks_test_vector() {
        // The specification's published example: secret, id, timestamp, payload, signature.
        let secret = secret_bytes("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").expect("b64");
        let sig = sign(
            &secret,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1_614_265_330,
            br#"{"test": 2432232314}"#,
        );
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
        let both = signature_header(&[&secret, b"old"], "m", 1, b"{}");
        assert_eq!(both.split(' ').count(), 2);
        assert!(both.starts_with(&sign(&secret, "m", 1, b"{}")));
    }

    #[test]
    fn secrets_round_trip_and_differ() {
        let a = new_secret().expect("rng");
        let b = new_secret().expect("rng");
        assert_ne!(a, b);
        let text = secret_text(&a);
        assert!(text.starts_with("whsec_"));
        assert_eq!(secret_bytes(&text).expect("parses"), a.to_vec());
        assert_eq!(secret_bytes("sk_x"), None);
    }

    #[test]
    fn selectors_subscribe_to_types_groups_and_everything() {
        let at = Timestamp::parse("2025-01-15T10:30:00Z").expect("ts");
        let mut e = Endpoint {
            id: WebhookEndpointId::new(at.datetime()),
            url: "https://example.com/hook".into(),
            enabled_events: vec!["session.*".into(), "account.created".into()],
            status: EndpointStatus::Enabled,
            disabled_reason: None,
            description: None,
            secret: SealedSecret("x".into()),
            previous_secret: None,
            failing_since: None,
            created_at: at,
            updated_at: at,
            version: 1,
        };
        assert!(e.wants("session.approved") && e.wants("account.created"));
        assert!(!e.wants("account.redacted") && !e.wants("verification.completed"));
        e.enabled_events = vec!["*".into()];
        assert!(e.wants("verification.completed"));
        e.status = EndpointStatus::Disabled;
        assert!(!e.wants("session.approved"));
        assert_eq!(EventSelector::parse("webhook.*"), None);
    }

    #[test]
    fn the_default_schedule_is_the_contracts() {
        let p = RetryPolicy::default();
        assert_eq!(p.attempts(), 8);
        assert_eq!(p.next_delay(1), Some(Duration::seconds(5)));
        assert_eq!(p.next_delay(7), Some(Duration::hours(10)));
        assert_eq!(p.next_delay(8), None);
        assert_eq!(p.next_delay(0), None);
        let t0 = Timestamp::parse("2025-01-01T00:00:00Z").expect("ts");
        assert!(!p.must_disable(t0, t0.add(Duration::days(4))));
        assert!(p.must_disable(t0, t0.add(Duration::days(5))));
    }

    #[test]
    fn delivery_ids_are_stable_per_attempt_and_distinct_across() {
        let at = Timestamp::parse("2025-01-15T10:30:00Z").expect("ts");
        let endpoint = WebhookEndpointId::new(at.datetime());
        let event = EventId::new(at.datetime());
        let a = Delivery::derive_id(endpoint, event, "event", 1, at);
        assert_eq!(a, Delivery::derive_id(endpoint, event, "event", 1, at));
        assert_ne!(a, Delivery::derive_id(endpoint, event, "event", 2, at));
        assert_ne!(a, Delivery::derive_id(endpoint, event, "01J", 1, at));
        assert!(DeliveryId::parse(&a.to_string()).is_ok());
    }
}
