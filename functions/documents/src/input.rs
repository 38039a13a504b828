//! Request documents of the documents endpoints.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use idv::domain::document::DocumentStatus;
use idv::domain::document::{ContentType, DocumentKind, Side, MAX_FILES, MAX_FILE_BYTES};
use idv::domain::ids::{AccountId, SessionId};
use idv::domain::validation::{ObjectReader, ProblemKind, Problems};
use idv::http::jsonapi::RequestDoc;
use idv::http::pagination::ListParams;
use idv::http::ApiError;
use idv::workflow::documents::DocumentFilter;
use serde_json::Value;

pub use idv::workflow::documents::{FileDecl, NewDocument};

fn read_file(kind: DocumentKind, v: &Value, ptr: &str, p: &mut Problems) -> Option<FileDecl> {
    let mut r = ObjectReader::new(v, ptr, p)?;
    let filename = r.text("filename", 255, p);
    let ct_ptr = r.pointer_of("content_type");
    let content_type = match r.get("content_type") {
        None => None,
        Some(v) => match v.as_str().and_then(ContentType::parse) {
            Some(ct) if kind.accepts(ct) => Some(ct),
            Some(_) => {
                p.invalid(&ct_ptr, "an ID document takes image/jpeg or image/png");
                None
            }
            None => {
                let allowed = if kind == DocumentKind::Idv {
                    "image/jpeg or image/png"
                } else {
                    "image/jpeg, image/png or application/pdf"
                };
                p.invalid(&ct_ptr, format!("must be {allowed}"));
                None
            }
        },
    };
    let size_ptr = r.pointer_of("byte_size");
    let byte_size = match r.get("byte_size") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_FILE_BYTES).contains(&n) => Some(n),
            Some(n) if n > MAX_FILE_BYTES => {
                p.invalid(&size_ptr, "must be at most 10 MiB (10485760 bytes)");
                None
            }
            _ => {
                p.invalid(
                    &size_ptr,
                    "must be a whole number of bytes from 1 to 10485760",
                );
                None
            }
        },
    };
    let side_ptr = r.pointer_of("side");
    let side = match r.get("side") {
        None => None,
        Some(_) if kind == DocumentKind::Address => {
            p.invalid(&side_ptr, "only ID documents have sides");
            None
        }
        Some(v) => match v.as_str() {
            Some("front") => Some(Side::Front),
            Some("back") => Some(Side::Back),
            _ => {
                p.invalid(&side_ptr, "must be front or back");
                None
            }
        },
    };
    let sum_ptr = r.pointer_of("checksum");
    let checksum = match r.get("checksum") {
        None => None,
        Some(v) => match v
            .as_str()
            .filter(|s| STANDARD.decode(s).is_ok_and(|b| b.len() == 32))
        {
            Some(s) => Some(s.to_owned()),
            None => {
                p.invalid(
                    &sum_ptr,
                    "must be the base64 SHA-256 of the file (44 characters)",
                );
                None
            }
        },
    };
    for (key, missing) in [
        ("filename", filename.is_none()),
        ("content_type", content_type.is_none()),
        ("byte_size", byte_size.is_none()),
    ] {
        if missing && !r.has(key) {
            p.push(ProblemKind::Missing, &r.pointer_of(key), "is required");
        }
    }
    r.finish(p);
    Some(FileDecl {
        filename: filename?,
        content_type: content_type?,
        byte_size: byte_size?,
        side,
        checksum,
    })
}

/// Reads `POST /documents/{kind}`.
pub fn new_document(kind: DocumentKind, body: &Value) -> Result<NewDocument, Problems> {
    let mut p = Problems::default();
    let Some(doc) = RequestDoc::read(body, kind.resource_type(), None, &mut p) else {
        return Err(p);
    };
    let Some(mut attrs) = ObjectReader::new(doc.attributes, "/data/attributes", &mut p) else {
        return Err(p);
    };
    let mut files = Vec::new();
    match attrs.get("files") {
        None => p.push(
            ProblemKind::Missing,
            "/data/attributes/files",
            "declare 1 to 4 files",
        ),
        Some(Value::Array(items)) if items.is_empty() || items.len() > MAX_FILES => {
            p.invalid("/data/attributes/files", "must declare 1 to 4 files")
        }
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                if let Some(f) =
                    read_file(kind, item, &format!("/data/attributes/files/{i}"), &mut p)
                {
                    files.push(f);
                }
            }
        }
        Some(_) => p.invalid("/data/attributes/files", "must be an array of files"),
    }
    let types = kind.document_types();
    let document_type = attrs.parsed(
        "document_type",
        &format!("one of {}", types.join(", ")),
        |s| types.contains(&s).then(|| s.to_owned()),
        &mut p,
    );
    attrs.finish(&mut p);
    let session = relation(&doc, "session", &mut p, |s| SessionId::parse(s).ok());
    let account = relation(&doc, "account", &mut p, |s| AccountId::parse(s).ok());
    doc.only_relationships(&["session", "account"], &mut p);
    p.into_result(NewDocument {
        files,
        document_type,
        session,
        account,
    })
}

fn relation<T>(
    doc: &RequestDoc<'_>,
    name: &'static str,
    p: &mut Problems,
    parse: impl Fn(&str) -> Option<T>,
) -> Option<T> {
    let id = doc.to_one(name, name, p)?;
    match parse(&id) {
        Some(v) => Some(v),
        None => {
            p.push(
                ProblemKind::Relationship,
                &format!("/data/relationships/{name}/data/id"),
                format!("is not a {name} id"),
            );
            None
        }
    }
}

/// Reads `POST /documents/{kind}/{id}/files`: `{"data": {"type": "file", "attributes":
/// {filename, content_type, byte_size, side?, checksum?}}}`.
pub fn new_file(kind: DocumentKind, body: &Value) -> Result<FileDecl, Problems> {
    let mut p = Problems::default();
    let Some(doc) = RequestDoc::read(body, "file", None, &mut p) else {
        return Err(p);
    };
    doc.only_relationships(&[], &mut p);
    let file = read_file(kind, doc.attributes, "/data/attributes", &mut p);
    match file {
        Some(f) if p.is_empty() => Ok(f),
        _ => Err(p),
    }
}

/// The filters `GET /documents/{kind}` accepts.
pub const LIST_FILTERS: [&str; 3] = ["filter[session_id]", "filter[account_id]", "filter[status]"];

/// The filter a `GET /documents/{kind}` query asks for (400 with the parameter named when
/// a value does not parse).
pub fn list_filter(params: &ListParams) -> Result<DocumentFilter, ApiError> {
    let mut filter = DocumentFilter::default();
    if let Some((name, v)) = params.filter(&["filter[session_id]"]) {
        filter.session_id = Some(
            SessionId::parse(v)
                .map_err(|_| ApiError::parameter(name, "must be a session id (sess_…)"))?,
        );
    }
    if let Some((name, v)) = params.filter(&["filter[account_id]"]) {
        filter.account_id = Some(
            AccountId::parse(v)
                .map_err(|_| ApiError::parameter(name, "must be an account id (acc_…)"))?,
        );
    }
    filter.statuses = params.filter_list(
        &["filter[status]"],
        "document statuses",
        DocumentStatus::parse,
    )?;
    Ok(filter)
}
