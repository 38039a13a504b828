//! The applicant's personal data held by sessions and accounts: person, business, contact,
//! address and identity numbers, and the readers that turn request JSON into them.
//!
//! These structs serialize to exactly the contract's shapes (unset values are `null`, never
//! omitted), both in API responses and as DynamoDB maps. Everything here is personal data:
//! it is never logged, and redaction replaces it with `null`.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::{Date, Month};

use super::validation::{child, ObjectReader, ProblemKind, Problems};
use super::values::{opt_date, CountryCode, Email, Phone};

/// Longest accepted name part.
const NAME_MAX: usize = 100;
/// Longest accepted address line, city or subdivision.
const LINE_MAX: usize = 200;

/// A person's name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Name {
    /// Given name.
    pub first: Option<String>,
    /// Middle name(s).
    pub middle: Option<String>,
    /// Family name.
    pub last: Option<String>,
}

/// The applicant as a natural person.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Their name.
    pub name: Option<Name>,
    /// Date of birth, in the past.
    #[serde(with = "opt_date", default)]
    pub birth_date: Option<Date>,
}

/// A postal address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    /// Street and number.
    pub line1: Option<String>,
    /// Flat, suite, building.
    pub line2: Option<String>,
    /// City or locality.
    pub city: Option<String>,
    /// State, province or region (`CA`).
    pub subdivision: Option<String>,
    /// Postal or ZIP code.
    pub postal_code: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country_code: Option<CountryCode>,
}

/// How to reach the applicant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// E-mail address.
    pub email: Option<Email>,
    /// Phone in E.164.
    pub phone: Option<Phone>,
}

/// A government number (passport number, licence number, tax id, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityNumber {
    /// The number as printed.
    pub number: String,
    /// The issuing country.
    pub issuing_country_code: Option<CountryCode>,
    /// What kind of number: a document type (`passport`, `driving_license`) or a class such
    /// as `ssn`; lower-case letters, digits and `_`.
    pub class: String,
}

/// The applicant as a business.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Business {
    /// Registered name.
    pub legal_name: Option<String>,
    /// Date of registration, not in the future.
    #[serde(with = "opt_date", default)]
    pub registration_date: Option<Date>,
    /// Registry number.
    pub registration_number: Option<String>,
}

/// All personal data a session or an account can hold, as one unit so that redaction can
/// replace it at once. Its `Debug` shows which parts are set, never their values.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplicantData {
    /// Natural person.
    pub person: Option<Person>,
    /// Business.
    pub business: Option<Business>,
    /// Contact details.
    pub contact: Option<Contact>,
    /// Postal address.
    pub address: Option<Address>,
    /// Government numbers.
    pub identity_numbers: Option<Vec<IdentityNumber>>,
}

impl std::fmt::Debug for ApplicantData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApplicantData")
            .field("person", &self.person.is_some())
            .field("business", &self.business.is_some())
            .field("contact", &self.contact.is_some())
            .field("address", &self.address.is_some())
            .field(
                "identity_numbers",
                &self.identity_numbers.as_ref().map(Vec::len),
            )
            .finish()
    }
}

/// The attribute names that hold [`ApplicantData`], in rendering order.
pub const APPLICANT_FIELDS: [&str; 5] = [
    "person",
    "business",
    "contact",
    "address",
    "identity_numbers",
];

/// Input names accepted for address fields besides the canonical ones.
const ADDRESS_ALIASES: [(&str, &str); 3] = [
    ("locality", "city"),
    ("administrative_area", "subdivision"),
    ("sublocality", "line2"),
];

impl ApplicantData {
    /// True when nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &ApplicantData::default()
    }

    /// The data as a JSON object keyed by attribute name (nulls included).
    pub fn to_json(&self) -> serde_json::Map<String, Value> {
        match serde_json::to_value(self) {
            Ok(Value::Object(map)) => map,
            // A struct of plain data always serializes to an object.
            _ => serde_json::Map::new(),
        }
    }

    /// Reads the applicant attributes from a request's `attributes` object. Unknown keys are
    /// not reported here: the caller reads its own attributes from the same reader and then
    /// calls `finish`.
    pub fn read(attrs: &mut ObjectReader<'_>, today: Date, p: &mut Problems) -> ApplicantData {
        let person_ptr = attrs.pointer_of("person");
        let business_ptr = attrs.pointer_of("business");
        let contact_ptr = attrs.pointer_of("contact");
        let address_ptr = attrs.pointer_of("address");
        let ids_ptr = attrs.pointer_of("identity_numbers");
        ApplicantData {
            person: attrs
                .get("person")
                .and_then(|v| read_person(v, &person_ptr, today, p)),
            business: attrs
                .get("business")
                .and_then(|v| read_business(v, &business_ptr, today, p)),
            contact: attrs
                .get("contact")
                .and_then(|v| read_contact(v, &contact_ptr, p)),
            address: attrs
                .get("address")
                .and_then(|v| read_address(v, &address_ptr, p)),
            identity_numbers: attrs
                .get("identity_numbers")
                .and_then(|v| read_identity_numbers(v, &ids_ptr, p)),
        }
    }
}

/// Renames the address aliases of a request (`locality`, `administrative_area`,
/// `sublocality`) to their canonical names, in place, before any merge, so that stored data
/// only ever uses canonical names. Sending both an alias and its canonical name is an error.
pub fn normalize_address_aliases(attributes: &mut Value, attrs_ptr: &str, p: &mut Problems) {
    let Some(address) = attributes.get_mut("address").and_then(Value::as_object_mut) else {
        return;
    };
    for (alias, canonical) in ADDRESS_ALIASES {
        if let Some(v) = address.remove(alias) {
            if address.contains_key(canonical) {
                p.invalid(
                    &child(&child(attrs_ptr, "address"), alias),
                    format!("`{alias}` is an alias of `{canonical}`; send only one of them"),
                );
            } else {
                address.insert(canonical.to_owned(), v);
            }
        }
    }
}

fn read_name(v: &Value, ptr: &str, p: &mut Problems) -> Option<Name> {
    let mut r = ObjectReader::new(v, ptr, p)?;
    let name = Name {
        first: r.text("first", NAME_MAX, p),
        middle: r.text("middle", NAME_MAX, p),
        last: r.text("last", NAME_MAX, p),
    };
    r.finish(p);
    Some(name)
}

fn read_person(v: &Value, ptr: &str, today: Date, p: &mut Problems) -> Option<Person> {
    let mut r = ObjectReader::new(v, ptr, p)?;
    let name_ptr = r.pointer_of("name");
    let name = r.get("name").and_then(|v| read_name(v, &name_ptr, p));
    let birth_ptr = r.pointer_of("birth_date");
    let birth_date = r.date("birth_date", p);
    let earliest = Date::from_calendar_date(1900, Month::January, 1).unwrap_or(Date::MIN);
    let birth_date = match birth_date {
        Some(d) if d >= today => {
            p.invalid(&birth_ptr, "must lie in the past");
            None
        }
        Some(d) if d < earliest => {
            p.invalid(&birth_ptr, "must not be before 1900-01-01");
            None
        }
        other => other,
    };
    r.finish(p);
    Some(Person { name, birth_date })
}

fn read_business(v: &Value, ptr: &str, today: Date, p: &mut Problems) -> Option<Business> {
    let mut r = ObjectReader::new(v, ptr, p)?;
    let legal_name = r.text("legal_name", LINE_MAX, p);
    let date_ptr = r.pointer_of("registration_date");
    let registration_date = match r.date("registration_date", p) {
        Some(d) if d > today => {
            p.invalid(&date_ptr, "must not be in the future");
            None
        }
        other => other,
    };
    let registration_number = r.text("registration_number", NAME_MAX, p);
    r.finish(p);
    Some(Business {
        legal_name,
        registration_date,
        registration_number,
    })
}

fn read_contact(v: &Value, ptr: &str, p: &mut Problems) -> Option<Contact> {
    let mut r = ObjectReader::new(v, ptr, p)?;
    let contact = Contact {
        email: r.parsed("email", "an e-mail address", Email::parse, p),
        phone: r.parsed(
            "phone",
            "a phone number in E.164 form, such as +14155550123",
            Phone::parse,
            p,
        ),
    };
    r.finish(p);
    Some(contact)
}

fn read_address(v: &Value, ptr: &str, p: &mut Problems) -> Option<Address> {
    let mut r = ObjectReader::new(v, ptr, p)?;
    let address = Address {
        line1: r.text("line1", LINE_MAX, p),
        line2: r.text("line2", LINE_MAX, p),
        city: r.text("city", LINE_MAX, p),
        subdivision: r.text("subdivision", LINE_MAX, p),
        postal_code: r.text("postal_code", 20, p),
        country_code: r.parsed(
            "country_code",
            "an ISO 3166-1 alpha-2 country code such as US",
            CountryCode::parse,
            p,
        ),
    };
    r.finish(p);
    Some(address)
}

fn read_identity_numbers(v: &Value, ptr: &str, p: &mut Problems) -> Option<Vec<IdentityNumber>> {
    let Some(items) = v.as_array() else {
        p.invalid(ptr, "must be an array");
        return None;
    };
    if items.len() > 10 {
        p.invalid(ptr, "must hold at most 10 numbers");
        return None;
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let item_ptr = format!("{ptr}/{i}");
        let Some(mut r) = ObjectReader::new(item, &item_ptr, p) else {
            continue;
        };
        let number = r.text("number", 64, p);
        let issuing_country_code = r.parsed(
            "issuing_country_code",
            "an ISO 3166-1 alpha-2 country code such as US",
            CountryCode::parse,
            p,
        );
        let class_ptr = r.pointer_of("class");
        let class = r.text("class", 40, p);
        if let Some(c) = &class {
            if !c
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                p.invalid(&class_ptr, "must use lower-case letters, digits and _");
            }
        }
        for (key, value) in [("number", &number), ("class", &class)] {
            if value.is_none() && !r.has(key) {
                p.push(ProblemKind::Missing, &child(&item_ptr, key), "is required");
            }
        }
        r.finish(p);
        if let (Some(number), Some(class)) = (number, class) {
            out.push(IdentityNumber {
                number,
                issuing_country_code,
                class,
            });
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    fn read(attrs: Value) -> (ApplicantData, Problems) {
        let mut p = Problems::default();
        let mut attrs = attrs;
        normalize_address_aliases(&mut attrs, "/data/attributes", &mut p);
        let mut r = ObjectReader::new(&attrs, "/data/attributes", &mut p).expect("object");
        let data = ApplicantData::read(&mut r, date!(2025 - 01 - 15), &mut p);
        r.finish(&mut p);
        (data, p)
    }

    #[test]
    fn reads_the_seed_patch() {
        let (data, p) = read(json!({
            "person": {"name": {"first": "Jane", "last": "Doe"}, "birth_date": "1990-05-15"},
            "address": {"line1": "123 Main St", "city": "San Francisco", "subdivision": "CA",
                        "postal_code": "94102", "country_code": "US"},
            "contact": {"email": "jane@example.com", "phone": "+1234567890"}
        }));
        assert!(p.is_empty(), "{p:?}");
        let person = data.person.expect("person");
        assert_eq!(person.birth_date, Some(date!(1990 - 05 - 15)));
        assert_eq!(person.name.and_then(|n| n.first).as_deref(), Some("Jane"));
        assert_eq!(
            serde_json::to_value(data.address).expect("json"),
            json!({"line1": "123 Main St", "line2": null, "city": "San Francisco",
                   "subdivision": "CA", "postal_code": "94102", "country_code": "US"})
        );
    }

    #[test]
    fn aliases_become_canonical_and_conflicts_are_reported() {
        let (data, p) = read(
            json!({"address": {"locality": "Paris", "administrative_area": "IDF",
                                                 "sublocality": "Marais", "country_code": "FR"}}),
        );
        assert!(p.is_empty());
        let a = data.address.expect("address");
        assert_eq!(
            (
                a.city.as_deref(),
                a.subdivision.as_deref(),
                a.line2.as_deref()
            ),
            (Some("Paris"), Some("IDF"), Some("Marais"))
        );
        let (_, p) = read(json!({"address": {"locality": "Paris", "city": "Lyon"}}));
        assert_eq!(p.0[0].pointer, "/data/attributes/address/locality");
    }

    #[test]
    fn every_problem_has_its_pointer() {
        let (_, p) = read(json!({
            "person": {"name": {"first": 5, "nick": "J"}, "birth_date": "2030-01-01"},
            "contact": {"email": "not-an-email", "phone": "555-1234"},
            "address": {"country_code": "USA"},
            "identity_numbers": [{"number": "X1"}, "nope"],
            "business": {"registration_date": "2023-02-30"}
        }));
        let got: Vec<(&str, &str)> =
            p.0.iter()
                .map(|x| (x.kind.code(), x.pointer.as_str()))
                .collect();
        let expected = [
            ("invalid_attribute", "/data/attributes/person/name/first"),
            ("unknown_attribute", "/data/attributes/person/name/nick"),
            ("invalid_attribute", "/data/attributes/person/birth_date"),
            (
                "invalid_attribute",
                "/data/attributes/business/registration_date",
            ),
            ("invalid_attribute", "/data/attributes/contact/email"),
            ("invalid_attribute", "/data/attributes/contact/phone"),
            ("invalid_attribute", "/data/attributes/address/country_code"),
            (
                "missing_attribute",
                "/data/attributes/identity_numbers/0/class",
            ),
            ("invalid_attribute", "/data/attributes/identity_numbers/1"),
        ];
        assert_eq!(got, expected);
    }

    #[test]
    fn renders_nulls_not_omissions() {
        let json = serde_json::to_value(ApplicantData::default()).expect("json");
        assert_eq!(
            json,
            json!({"person": null, "business": null, "contact": null, "address": null,
                   "identity_numbers": null})
        );
        let p = serde_json::to_value(Person::default()).expect("json");
        assert_eq!(p, json!({"name": null, "birth_date": null}));
    }
}
