//! Request documents of the verifications endpoints, turned into domain values.

use idv::domain::ids::{DocumentId, SessionId};
use idv::domain::validation::{ObjectReader, ProblemKind, Problems};
use idv::domain::values::parse_date;
use idv::domain::values::Timestamp;
use idv::domain::verification::VerificationKind;
use idv::domain::verification::VerificationStatus;
use idv::http::jsonapi::RequestDoc;
use idv::http::pagination::ListParams;
use idv::http::ApiError;
use idv::workflow::verify::VerificationFilter;
use serde_json::Value;
use time::Date;

/// A valid `POST /verifications` request.
pub struct NewVerification {
    /// What to verify the document as.
    pub kind: VerificationKind,
    /// The document checked.
    pub document: DocumentId,
    /// The session the result is recorded on, if any.
    pub session: Option<SessionId>,
    /// `meta.auto_update_session`: let the result decide the session.
    pub auto_update_session: bool,
    /// The day the rules are evaluated on (today when absent); never in the future.
    pub evaluated_on: Option<Date>,
}

/// Reads the request document of `POST /verifications`; `today` bounds `evaluated_on`.
pub fn new_verification(body: &Value, today: Date) -> Result<NewVerification, Problems> {
    let mut p = Problems::default();
    let kind = body
        .pointer("/data/type")
        .and_then(Value::as_str)
        .and_then(VerificationKind::from_resource_type);
    let expected = kind.map_or("verification/idv", |k| k.resource_type());
    let Some(doc) = RequestDoc::read(body, expected, None, &mut p) else {
        return Err(p);
    };
    if kind.is_none() && body.pointer("/data/type").is_some() {
        p.0.retain(|x| x.pointer != "/data/type");
        p.invalid(
            "/data/type",
            "must be verification/idv or verification/address",
        );
    }
    let Some(mut attrs) = ObjectReader::new(doc.attributes, "/data/attributes", &mut p) else {
        return Err(p);
    };
    let on_ptr = attrs.pointer_of("evaluated_on");
    let evaluated_on = match attrs.get("evaluated_on") {
        None => None,
        Some(v) => match v.as_str().and_then(parse_date) {
            Some(d) if d <= today => Some(d),
            Some(_) => {
                p.invalid(&on_ptr, "must not be in the future");
                None
            }
            None => {
                p.invalid(&on_ptr, "must be a date that exists, written YYYY-MM-DD");
                None
            }
        },
    };
    attrs.finish(&mut p);
    let document = match doc.to_one(
        "document",
        kind.map_or("document/idv", |k| k.document_kind().resource_type()),
        &mut p,
    ) {
        Some(id) => match DocumentId::parse(&id) {
            Ok(d) => Some(d),
            Err(_) => {
                p.push(
                    ProblemKind::Relationship,
                    "/data/relationships/document/data/id",
                    "is not a document id",
                );
                None
            }
        },
        None => {
            if !doc
                .relationships
                .is_some_and(|r| r.contains_key("document"))
            {
                p.push(
                    ProblemKind::Missing,
                    "/data/relationships/document",
                    "is required",
                );
            }
            None
        }
    };
    let session =
        doc.to_one("session", "session", &mut p)
            .and_then(|id| match SessionId::parse(&id) {
                Ok(s) => Some(s),
                Err(_) => {
                    p.push(
                        ProblemKind::Relationship,
                        "/data/relationships/session/data/id",
                        "is not a session id",
                    );
                    None
                }
            });
    doc.only_relationships(&["document", "session"], &mut p);
    doc.meta.only(&["auto_update_session"], &mut p);
    let auto_update_session = match doc.meta.get("auto_update_session") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            p.invalid(
                &doc.meta.pointer("auto_update_session"),
                "must be true or false",
            );
            false
        }
    };
    if auto_update_session && session.is_none() {
        p.invalid(
            &doc.meta.pointer("auto_update_session"),
            "needs relationships.session",
        );
    }
    match (kind, document) {
        (Some(kind), Some(document)) if p.is_empty() => Ok(NewVerification {
            kind,
            document,
            session,
            auto_update_session,
            evaluated_on,
        }),
        _ => Err(p),
    }
}

/// The list filters of `GET /verifications`, each under its `filter[…]` name and its bare
/// alias.
pub const LIST_FILTERS: [&str; 8] = [
    "filter[status]",
    "status",
    "filter[session_id]",
    "session_id",
    "filter[created_at_from]",
    "created_at_from",
    "filter[created_at_to]",
    "created_at_to",
];

/// The filter a `GET /verifications` query asks for (400 with the parameter named when a
/// value does not parse).
pub fn list_filter(params: &ListParams) -> Result<VerificationFilter, ApiError> {
    let mut filter = VerificationFilter {
        statuses: params.filter_list(
            &["filter[status]", "status"],
            "passed, failed or requires_retry",
            VerificationStatus::parse,
        )?,
        ..VerificationFilter::default()
    };
    if let Some((name, v)) = params.filter(&["filter[session_id]", "session_id"]) {
        filter.session_id = Some(
            SessionId::parse(v)
                .map_err(|_| ApiError::parameter(name, "must be a session id (sess_…)"))?,
        );
    }
    for (names, slot) in [
        (
            ["filter[created_at_from]", "created_at_from"],
            &mut filter.created_from,
        ),
        (
            ["filter[created_at_to]", "created_at_to"],
            &mut filter.created_to,
        ),
    ] {
        if let Some((name, v)) = params.filter(&names) {
            *slot = Some(
                Timestamp::parse(v)
                    .ok_or_else(|| ApiError::parameter(name, "must be an RFC 3339 timestamp"))?,
            );
        }
    }
    Ok(filter)
}
