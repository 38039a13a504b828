//! Request documents of the accounts endpoints, turned into domain values.

use idv::domain::account::{Account, AccountStatus};
use idv::domain::applicant::{normalize_address_aliases, ApplicantData, APPLICANT_FIELDS};
use idv::domain::session::EntityType;
use idv::domain::validation::{merge_patch, ObjectReader, ProblemKind, Problems};
use idv::domain::values::Timestamp;
use idv::http::jsonapi::RequestDoc;
use serde_json::{Map, Value};

const READ_ONLY: [&str; 6] = [
    "created_at",
    "updated_at",
    "redacted_at",
    "sessions",
    "documents",
    "id",
];

/// Longest external id.
const EXTERNAL_ID_MAX: usize = 255;

/// The attributes of an account request, read from `attrs` (shared by create and patch).
struct Fields {
    status: Option<AccountStatus>,
    external_id: Option<String>,
    entity_type: Option<EntityType>,
    data: ApplicantData,
}

fn read_fields(attrs: &Value, now: Timestamp, p: &mut Problems) -> Option<Fields> {
    if let Some(map) = attrs.as_object() {
        for key in READ_ONLY {
            if map.contains_key(key) {
                p.invalid(&format!("/data/attributes/{key}"), "is read-only");
            }
        }
    }
    let mut r = ObjectReader::new(attrs, "/data/attributes", p)?;
    let status = r.parsed(
        "status",
        "one of active, pending, inactive, suspended",
        AccountStatus::parse,
        p,
    );
    let external_id = r.text("external_id", EXTERNAL_ID_MAX, p);
    let entity_type = r.parsed(
        "entity_type",
        "`person` or `business`",
        EntityType::parse,
        p,
    );
    let data = ApplicantData::read(&mut r, now.date(), p);
    for key in READ_ONLY {
        let _ = r.get(key);
    }
    r.finish(p);
    Some(Fields {
        status,
        external_id,
        entity_type,
        data,
    })
}

/// Reads `POST /accounts` into a new account.
pub fn new_account(mut body: Value, now: Timestamp) -> Result<Account, Problems> {
    let mut p = Problems::default();
    if let Some(attrs) = body.pointer_mut("/data/attributes") {
        normalize_address_aliases(attrs, "/data/attributes", &mut p);
    }
    let Some(doc) = RequestDoc::read(&body, "account", None, &mut p) else {
        return Err(p);
    };
    doc.only_relationships(&[], &mut p);
    let fields = read_fields(doc.attributes, now, &mut p);
    match fields {
        Some(f) if p.is_empty() => Ok(Account {
            id: idv::domain::ids::AccountId::new(now.datetime()),
            version: 1,
            status: f.status.unwrap_or(AccountStatus::Active),
            external_id: f.external_id,
            entity_type: f.entity_type.unwrap_or(EntityType::Person),
            data: f.data,
            created_at: now,
            updated_at: now,
            redacted_at: None,
            redaction: None,
        }),
        _ => Err(p),
    }
}

/// A checked PATCH document.
pub struct AccountPatch {
    patch: Map<String, Value>,
}

/// Reads `PATCH /accounts/{id}` up to the point where the current account is needed.
pub fn account_patch(mut body: Value, path_id: &str) -> Result<AccountPatch, Problems> {
    let mut p = Problems::default();
    if let Some(attrs) = body.pointer_mut("/data/attributes") {
        normalize_address_aliases(attrs, "/data/attributes", &mut p);
    }
    let Some(doc) = RequestDoc::read(&body, "account", Some(path_id), &mut p) else {
        return Err(p);
    };
    doc.only_relationships(&[], &mut p);
    let patch = doc.attributes.as_object().cloned().unwrap_or_default();
    for key in patch.keys() {
        if READ_ONLY.contains(&key.as_str()) {
            p.invalid(&format!("/data/attributes/{key}"), "is read-only");
        } else if !(APPLICANT_FIELDS.contains(&key.as_str())
            || ["status", "external_id", "entity_type"].contains(&key.as_str()))
        {
            p.push(
                ProblemKind::Unknown,
                &format!("/data/attributes/{key}"),
                format!("`{key}` is not an attribute of this object"),
            );
        }
    }
    p.into_result(AccountPatch { patch })
}

impl AccountPatch {
    /// The account after the patch, or `None` when nothing changes.
    pub fn apply(&self, current: &Account, now: Timestamp) -> Result<Option<Account>, Problems> {
        let mut merged = Value::Object(current.data.to_json());
        merged["status"] = Value::String(current.status.as_str().into());
        merged["entity_type"] = Value::String(current.entity_type.as_str().into());
        merged["external_id"] = current
            .external_id
            .clone()
            .map_or(Value::Null, Value::String);
        merge_patch(&mut merged, &Value::Object(self.patch.clone()));
        let mut p = Problems::default();
        if merged.get("status").is_none_or(Value::is_null) {
            p.invalid("/data/attributes/status", "cannot be null");
        }
        if merged.get("entity_type").is_none_or(Value::is_null) {
            p.invalid("/data/attributes/entity_type", "cannot be null");
        }
        let fields = read_fields(&merged, now, &mut p);
        let Some(f) = fields.filter(|_| p.is_empty()) else {
            return Err(p);
        };
        let mut next = current.clone();
        next.status = f.status.unwrap_or(current.status);
        next.entity_type = f.entity_type.unwrap_or(current.entity_type);
        next.external_id = f.external_id;
        next.data = f.data;
        if next == *current {
            return Ok(None);
        }
        next.updated_at = now.at_least(current.updated_at);
        next.version += 1;
        Ok(Some(next))
    }
}

/// The filters `GET /accounts` accepts.
pub const LIST_FILTERS: [&str; 2] = ["filter[external_id]", "filter[status]"];

/// The external id and statuses a `GET /accounts` query asks for (400 with the parameter
/// named when a status does not parse).
pub fn list_filter(
    params: &idv::http::pagination::ListParams,
) -> Result<(Option<String>, Vec<AccountStatus>), idv::http::ApiError> {
    let statuses = params.filter_list(
        &["filter[status]"],
        "account statuses",
        AccountStatus::parse,
    )?;
    let external_id = params
        .filter(&["filter[external_id]"])
        .map(|(_, v)| v.to_owned());
    Ok((external_id, statuses))
}
