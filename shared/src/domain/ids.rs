//! Resource identifiers: a type prefix and a ULID (`sess_01HQ…`).
//!
//! Each resource has its own newtype so a session id can never be passed where an account id
//! is expected. [`parse`](SessionId::parse) is the only way in from the outside and accepts
//! exactly the canonical form we hand out (prefix, 26 upper-case Crockford characters), so
//! one resource has one spelling and a malformed id is told apart from an unknown one
//! before any I/O.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use ulid::Ulid;

/// Why a string is not an id of the expected kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid `{prefix}…` id")]
pub struct IdError {
    /// The prefix that was expected, e.g. `sess_`.
    pub prefix: &'static str,
}

/// 80 random bits for a new ULID. Falls back to the clock's nanoseconds mixed with a counter
/// only if the OS refuses randomness, which on Lambda does not happen; ids must never fail
/// to be minted because a request is already half done by then.
fn random_bits() -> u128 {
    let mut buf = [0u8; 16];
    if getrandom::fill(&mut buf[6..]).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let nanos = OffsetDateTime::now_utc().unix_timestamp_nanos() as u128;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed) as u128;
        return (nanos ^ (n << 64)) & ((1u128 << 80) - 1);
    }
    u128::from_be_bytes(buf)
}

/// A new ULID whose timestamp part is `at`, so ids sort by creation time.
pub fn new_ulid(at: OffsetDateTime) -> Ulid {
    let ms = (at.unix_timestamp_nanos() / 1_000_000).max(0) as u64;
    Ulid::from_parts(ms, random_bits())
}

macro_rules! resource_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Ulid);

        impl $name {
            /// The type prefix, including the underscore.
            pub const PREFIX: &'static str = $prefix;

            /// A fresh id whose embedded timestamp is `at`.
            pub fn new(at: OffsetDateTime) -> Self {
                Self(new_ulid(at))
            }

            /// Parses the canonical form: the prefix followed by 26 upper-case Crockford
            /// base-32 characters.
            pub fn parse(s: &str) -> Result<Self, IdError> {
                let err = IdError { prefix: Self::PREFIX };
                let rest = s.strip_prefix(Self::PREFIX).ok_or(err.clone())?;
                if rest.len() != 26 {
                    return Err(err);
                }
                let ulid = Ulid::from_string(rest).map_err(|_| err.clone())?;
                // Reject lower case and other non-canonical spellings of the same value.
                if ulid.to_string() != rest {
                    return Err(err);
                }
                Ok(Self(ulid))
            }

            /// The id of a given ULID (ids derived deterministically, such as a delivery's).
            pub fn from_ulid(ulid: Ulid) -> Self {
                Self(ulid)
            }

            /// The ULID part.
            pub fn ulid(&self) -> Ulid {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", Self::PREFIX, self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).map_err(serde::de::Error::custom)
            }
        }
    };
}

resource_id!(
    /// An account (`acc_…`).
    AccountId, "acc_"
);
resource_id!(
    /// A verification session (`sess_…`).
    SessionId, "sess_"
);
resource_id!(
    /// A document (`doc_…`).
    DocumentId, "doc_"
);
resource_id!(
    /// A file of a document (`file_…`).
    FileId, "file_"
);
resource_id!(
    /// A verification (`ver_…`).
    VerificationId, "ver_"
);
resource_id!(
    /// A session device (`dev_…`).
    DeviceId, "dev_"
);
resource_id!(
    /// An event of a session's log (`evt_…`).
    EventId, "evt_"
);
resource_id!(
    /// An API key (`key_…`); the id is public, the secret is not.
    ApiKeyId, "key_"
);
resource_id!(
    /// A webhook endpoint (`whe_…`).
    WebhookEndpointId, "whe_"
);
resource_id!(
    /// One delivery attempt of an event to a webhook endpoint (`whd_…`).
    DeliveryId, "whd_"
);
resource_id!(
    /// A client token (`ctk_…`): the public id of an applicant's token, the actor of its
    /// events. The token itself (`ct_…`) is a secret and never an id.
    ClientTokenId, "ctk_"
);

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use time::macros::datetime;

    #[test]
    fn new_ids_round_trip_and_embed_their_time() {
        let at = datetime!(2025-01-15 10:30:00 UTC);
        let id = SessionId::new(at);
        let text = id.to_string();
        assert!(text.starts_with("sess_"));
        assert_eq!(text.len(), 5 + 26);
        assert_eq!(SessionId::parse(&text), Ok(id));
        assert_eq!(id.ulid().timestamp_ms(), 1_736_937_000_000);
    }

    #[test]
    fn rejects_wrong_prefix_length_case_and_alphabet() {
        let good = AccountId::new(OffsetDateTime::now_utc()).to_string();
        assert!(
            SessionId::parse(&good).is_err(),
            "another resource's prefix"
        );
        assert!(
            AccountId::parse(&good[..good.len() - 1]).is_err(),
            "too short"
        );
        assert!(AccountId::parse(&format!("{good}0")).is_err(), "too long");
        assert!(
            AccountId::parse(&good.to_lowercase()).is_err(),
            "lower case"
        );
        assert!(
            AccountId::parse("acc_01HQ0000000000000000000I0U").is_err(),
            "I and U"
        );
        assert!(
            AccountId::parse("acc_81HQ000000000000000000000A").is_err(),
            "overflow"
        );
        assert!(AccountId::parse("").is_err());
    }

    #[test]
    fn ids_sort_by_time() {
        let a = DocumentId::new(datetime!(2025-01-15 10:30:00 UTC));
        let b = DocumentId::new(datetime!(2025-01-15 10:30:01 UTC));
        assert!(a < b);
        assert!(a.to_string() < b.to_string());
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in ".{0,40}") {
            let _ = SessionId::parse(&s);
        }

        #[test]
        fn display_parse_round_trip(ms in 0u64..(1u64 << 48), r in any::<u128>()) {
            let id = VerificationId(Ulid::from_parts(ms, r));
            prop_assert_eq!(VerificationId::parse(&id.to_string()), Ok(id));
        }
    }
}
