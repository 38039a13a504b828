//! Validated value types: timestamps, calendar dates, country codes, e-mail addresses, phone
//! numbers, tenants and environments.
//!
//! Each has one constructor that checks its input ("parse, don't validate"); everything past
//! the HTTP edge handles only values that are already known to be well formed.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{Date, Duration, OffsetDateTime, UtcOffset};

/// An instant in UTC with millisecond precision, written `2025-01-15T10:30:00.000Z`.
///
/// The fixed width matters: timestamps are part of DynamoDB sort keys and must sort as text
/// in the same order as in time.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

impl Timestamp {
    /// The current time, truncated to milliseconds.
    pub fn now() -> Self {
        Self::from_datetime(OffsetDateTime::now_utc())
    }

    /// Converts any offset to UTC and truncates to milliseconds.
    pub fn from_datetime(dt: OffsetDateTime) -> Self {
        let utc = dt.to_offset(UtcOffset::UTC);
        let ms = utc.millisecond();
        let truncated = utc
            .replace_nanosecond(u32::from(ms) * 1_000_000)
            .unwrap_or(utc);
        Self(truncated)
    }

    /// From seconds since the Unix epoch.
    pub fn from_unix(secs: i64) -> Option<Self> {
        OffsetDateTime::from_unix_timestamp(secs)
            .ok()
            .map(Self::from_datetime)
    }

    /// Parses RFC 3339. Offsets other than `Z` are accepted and converted to UTC.
    pub fn parse(s: &str) -> Option<Self> {
        // RFC 3339 allows a lower-case `t`/`z` and many fraction digits; the `time` parser
        // handles both. Years outside 0000-9999 cannot be written back in our fixed width.
        let dt = OffsetDateTime::parse(s, &Rfc3339).ok()?;
        let ts = Self::from_datetime(dt);
        (0..=9999).contains(&ts.0.year()).then_some(ts)
    }

    /// The underlying date-time (UTC).
    pub fn datetime(&self) -> OffsetDateTime {
        self.0
    }

    /// Seconds since the Unix epoch (the unit of DynamoDB TTL attributes).
    pub fn unix(&self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The calendar date in UTC.
    pub fn date(&self) -> Date {
        self.0.date()
    }

    /// `self + d`, saturating at the representable range.
    pub fn add(&self, d: Duration) -> Self {
        Self(self.0.checked_add(d).unwrap_or(self.0))
    }

    /// The later of two instants. Used so that a Lambda whose clock lags a little behind
    /// another's never writes a timestamp earlier than one already stored.
    pub fn at_least(self, other: Timestamp) -> Timestamp {
        self.max(other)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second(),
            d.millisecond()
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).ok_or_else(|| serde::de::Error::custom("not an RFC 3339 timestamp"))
    }
}

/// Parses a calendar date written exactly `YYYY-MM-DD`; rejects dates that do not exist.
pub fn parse_date(s: &str) -> Option<Date> {
    if s.len() != 10 {
        return None;
    }
    Date::parse(s, format_description!("[year]-[month]-[day]")).ok()
}

/// Writes a calendar date as `YYYY-MM-DD`.
pub fn format_date(d: Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Serde adapter for `Option<Date>` as `YYYY-MM-DD` or null.
pub mod opt_date {
    use super::*;

    /// Serializes as `YYYY-MM-DD` or null.
    pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&format_date(*d)),
            None => s.serialize_none(),
        }
    }

    /// Deserializes `YYYY-MM-DD` or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Date>, D::Error> {
        let s = Option::<String>::deserialize(d)?;
        s.map(|s| parse_date(&s).ok_or_else(|| serde::de::Error::custom("not a YYYY-MM-DD date")))
            .transpose()
    }
}

/// Serde adapter storing an optional JSON value as its text. DynamoDB keeps numbers as
/// decimals, so `0.0` would come back as `0`; results that must re-render byte for byte
/// (verification checks, extracted data) are stored as text instead.
pub mod json_text {
    use super::*;
    use serde_json::Value;

    /// Serializes as JSON text (or null).
    pub fn serialize<S: Serializer, T: Serialize>(v: &T, s: S) -> Result<S::Ok, S::Error> {
        let text = serde_json::to_string(v).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&text)
    }

    /// Deserializes JSON text (or a plain JSON value, for items written before).
    pub fn deserialize<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
        d: D,
    ) -> Result<T, D::Error> {
        let raw = Value::deserialize(d)?;
        match raw {
            Value::String(text) => serde_json::from_str(&text).map_err(serde::de::Error::custom),
            other => serde_json::from_value(other).map_err(serde::de::Error::custom),
        }
    }
}

macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident, personal) => {
        string_value!($(#[$doc])* $name);

        impl fmt::Debug for $name {
            /// Personal data: never printed, so a stray `{:?}` cannot leak it into logs.
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(concat!(stringify!($name), "(<redacted>)"))
            }
        }
    };
    ($(#[$doc:meta])* $name:ident, public) => {
        string_value!($(#[$doc])* $name);

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }
    };
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// The value as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Self::parse(&s).ok_or_else(|| {
                    serde::de::Error::custom(concat!("invalid ", stringify!($name)))
                })
            }
        }
    };
}

string_value!(
    /// An ISO 3166-1 alpha-2 country code (`US`), upper case.
    CountryCode, public
);

impl CountryCode {
    /// Accepts an assigned ISO 3166-1 alpha-2 code, in upper case.
    pub fn parse(s: &str) -> Option<Self> {
        (s.len() == 2 && ISO_3166_ALPHA2.split(' ').any(|c| c == s)).then(|| Self(s.to_owned()))
    }
}

/// Every officially assigned ISO 3166-1 alpha-2 code (249).
const ISO_3166_ALPHA2: &str = "AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF \
BG BH BI BJ BL BM BN BO BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW \
CX CY CZ DE DJ DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM \
GN GP GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH \
KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP \
MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN \
PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ \
TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE \
YT ZA ZM ZW";

string_value!(
    /// An e-mail address: a pragmatic subset of RFC 5321 that mail systems actually deliver
    /// to (dot-atom local part, a domain of at least two labels), at most 254 characters.
    Email, personal
);

impl Email {
    /// Checks the shape; the domain is lower-cased, the local part kept as given.
    pub fn parse(s: &str) -> Option<Self> {
        if s.len() > 254 {
            return None;
        }
        let (local, domain) = s.rsplit_once('@')?;
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..")
            && local
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
        let labels: Vec<&str> = domain.split('.').collect();
        let domain_ok = labels.len() >= 2
            && labels.iter().all(|l| {
                !l.is_empty()
                    && l.len() <= 63
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
            && labels
                .last()
                .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
        (local_ok && domain_ok).then(|| Self(format!("{local}@{}", domain.to_ascii_lowercase())))
    }
}

string_value!(
    /// A phone number in E.164: `+`, a country code not starting with 0, at most 15 digits.
    Phone, personal
);

impl Phone {
    /// Accepts `+` followed by 2 to 15 digits, the first not 0.
    pub fn parse(s: &str) -> Option<Self> {
        let digits = s.strip_prefix('+')?;
        let ok = (2..=15).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        ok.then(|| Self(s.to_owned()))
    }
}

string_value!(
    /// A tenant: the company using the service. Lower-case letters, digits, `-` and `_`,
    /// 1–64 characters; never contains `#`, the key separator of the table.
    TenantId, public
);

impl TenantId {
    /// Checks the alphabet and length.
    pub fn parse(s: &str) -> Option<Self> {
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        ok.then(|| Self(s.to_owned()))
    }
}

/// The environment a key and all data written with it belong to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Environment {
    /// Live data.
    Production,
    /// Test data; `/simulate` is allowed.
    Staging,
}

impl Environment {
    /// `production` or `staging`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Environment::Production => "production",
            Environment::Staging => "staging",
        }
    }

    /// Parses `production` or `staging`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "production" => Some(Self::Production),
            "staging" => Some(Self::Staging),
            _ => None,
        }
    }
}

impl fmt::Display for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The tenant and environment every read and write is scoped to.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Tenancy {
    /// The company.
    pub tenant: TenantId,
    /// Production or staging.
    pub environment: Environment,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn timestamps_have_fixed_width_and_sort_as_text() {
        let a = Timestamp::parse("2025-01-15T10:30:00Z").expect("valid");
        assert_eq!(a.to_string(), "2025-01-15T10:30:00.000Z");
        let b = Timestamp::parse("2025-01-15T10:30:00.123456+01:00").expect("valid");
        assert_eq!(b.to_string(), "2025-01-15T09:30:00.123Z");
        assert!(b < a && b.to_string() < a.to_string());
        assert!(Timestamp::parse("2025-02-30T10:30:00Z").is_none());
        assert!(Timestamp::parse("2025-01-15 10:30:00").is_none());
        assert!(Timestamp::parse("yesterday").is_none());
    }

    #[test]
    fn dates_must_exist() {
        assert!(parse_date("2024-02-29").is_some());
        assert!(parse_date("2023-02-29").is_none());
        assert!(parse_date("2023-13-01").is_none());
        assert!(parse_date("90-05-15").is_none());
        assert!(parse_date("1990-5-15").is_none());
        assert_eq!(
            parse_date("1990-05-15").map(format_date).as_deref(),
            Some("1990-05-15")
        );
    }

    #[test]
    fn country_codes_are_assigned_alpha2() {
        assert_eq!(ISO_3166_ALPHA2.split(' ').count(), 249);
        assert!(CountryCode::parse("US").is_some());
        assert!(CountryCode::parse("GB").is_some());
        for bad in ["us", "UK", "USA", "XX", "", "U"] {
            assert!(CountryCode::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("Jane.Doe+kyc@Example.COM")
                .map(|e| e.to_string())
                .as_deref(),
            Some("Jane.Doe+kyc@example.com")
        );
        for bad in [
            "jane",
            "jane@",
            "@example.com",
            "jane@example",
            "jane@@example.com",
            "ja ne@example.com",
            "jane..doe@example.com",
            "jane@-example.com",
            "jane@example.c0m",
        ] {
            assert!(Email::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn phones_are_e164() {
        assert!(Phone::parse("+1234567890").is_some());
        assert!(Phone::parse("+447911123456").is_some());
        for bad in [
            "1234567890",
            "+0123",
            "+1",
            "+1234567890123456",
            "+1 234",
            "+12a4",
        ] {
            assert!(Phone::parse(bad).is_none(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn timestamp_text_round_trips(secs in 0i64..253_402_300_799, ms in 0u32..1000) {
            let ts = Timestamp::from_unix(secs).expect("in range")
                .add(Duration::milliseconds(i64::from(ms)));
            prop_assert_eq!(Timestamp::parse(&ts.to_string()), Some(ts));
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,80}") {
            let _ = (Email::parse(&s), Phone::parse(&s), CountryCode::parse(&s),
                     Timestamp::parse(&s), parse_date(&s), TenantId::parse(&s));
        }
    }
}
