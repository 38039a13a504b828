//! Value types shared by every module: document kinds, sex, names, addresses and the
//! uploaded-file envelope. Everything here is plain data with a stable serde form, so the
//! engine's output can be stored and compared byte for byte. Read `engine` next.

use serde::{Deserialize, Serialize};

/// Government identity document kinds (stable wire strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentType {
    /// Passport (MRZ TD3, code `P`).
    Passport,
    /// Driving licence (AAMVA `DL` subfile).
    DrivingLicense,
    /// Identity card (MRZ TD1/TD2 codes `I`, `A`, `C`; AAMVA `ID` subfile).
    IdCard,
    /// Residence permit (MRZ codes `IR`, `AR`, `CR`).
    ResidencePermit,
    /// Visa (MRV-A / MRV-B, code `V`).
    Visa,
}

impl DocumentType {
    /// The stable wire string, also used in the document fingerprint.
    pub fn as_str(self) -> &'static str {
        match self {
            DocumentType::Passport => "passport",
            DocumentType::DrivingLicense => "driving_license",
            DocumentType::IdCard => "id_card",
            DocumentType::ResidencePermit => "residence_permit",
            DocumentType::Visa => "visa",
        }
    }
}

/// Proof-of-address document kinds (stable wire strings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AddressDocumentType {
    /// Electricity, gas, water, telecom bill.
    UtilityBill,
    /// Bank or card account statement.
    BankStatement,
    /// A PDF with a text layer that is neither.
    Other,
}

/// Sex as printed on the document. ICAO `M`/`F`/`<`(`X`), AAMVA `1`/`2`/`9`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// `M` / `1`.
    Male,
    /// `F` / `2`.
    Female,
    /// `X`, `<` / `9`: not specified.
    Unspecified,
}

/// A person's name split as the API expects it. Values are as read from the document
/// (upper case for MRZ and barcodes); `None` when the source has no such part.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonName {
    /// Given name.
    pub first: Option<String>,
    /// Further given names.
    pub middle: Option<String>,
    /// Family name.
    pub last: Option<String>,
}

/// A postal address in the API's shape. Country codes are ISO 3166-1 alpha-2.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Street and number.
    pub line1: Option<String>,
    /// Apartment, suite, building.
    pub line2: Option<String>,
    /// City or locality.
    pub city: Option<String>,
    /// State, province, region (a code where the source gives one).
    pub subdivision: Option<String>,
    /// Postal code as printed (US ZIP+4 as `12345-6789`).
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<String>,
}

impl Address {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        self.line1.is_none()
            && self.line2.is_none()
            && self.city.is_none()
            && self.subdivision.is_none()
            && self.postal_code.is_none()
            && self.country_code.is_none()
    }
}

/// Which side of a card a file shows, when the uploader said so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    /// The photo side (TD1 cards carry their MRZ on the back, some on the front).
    Front,
    /// The back (AAMVA PDF417 barcodes live here).
    Back,
}

/// One uploaded file, as the caller read it from object storage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputFile {
    /// The raw bytes. Untrusted: every parser treats them as hostile.
    pub bytes: Vec<u8>,
    /// The declared media type (`image/jpeg`, `image/png`, `application/pdf`); the
    /// engine sniffs the bytes too and does not trust this alone.
    pub content_type: String,
    /// Front or back, when declared.
    pub side: Option<Side>,
}

/// Serde helper: dates as `YYYY-MM-DD`, `null` when unset.
pub(crate) mod opt_date {
    use serde::{Serialize, Serializer};
    use time::Date;

    pub fn serialize<S: Serializer>(d: &Option<Date>, s: S) -> Result<S::Ok, S::Error> {
        d.map(crate::types::format_date).serialize(s)
    }
}

/// Formats a date as `YYYY-MM-DD` (four-digit years only: documents do not go past 9999).
pub fn format_date(d: time::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
}

/// Builds a date from parts, `None` when the calendar has no such day.
pub(crate) fn make_date(year: i32, month: u8, day: u8) -> Option<time::Date> {
    let month = time::Month::try_from(month).ok()?;
    time::Date::from_calendar_date(year, month, day).ok()
}

/// Whole years between `birth` and `on` (birthday on `on` counts).
pub(crate) fn age_on(birth: time::Date, on: time::Date) -> i32 {
    let mut years = on.year() - birth.year();
    if (u8::from(on.month()), on.day()) < (u8::from(birth.month()), birth.day()) {
        years -= 1;
    }
    years
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn date_format_is_iso() {
        assert_eq!(format_date(date!(2024 - 02 - 09)), "2024-02-09");
    }

    #[test]
    fn age_counts_birthday() {
        assert_eq!(age_on(date!(2000 - 03 - 01), date!(2018 - 03 - 01)), 18);
        assert_eq!(age_on(date!(2000 - 03 - 01), date!(2018 - 02 - 28)), 17);
        assert_eq!(age_on(date!(2000 - 02 - 29), date!(2018 - 02 - 28)), 17);
    }

    #[test]
    fn invalid_dates_are_none() {
        assert!(make_date(2023, 2, 29).is_none());
        assert!(make_date(2024, 13, 1).is_none());
        assert!(make_date(2024, 2, 29).is_some());
    }
}
