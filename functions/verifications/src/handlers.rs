//! Handlers of the verifications endpoints.
//!
//! DynamoDB round trips of a create: GetItem document, GetItem session, Query fingerprint
//! sightings (ID documents), then one transaction writing the verification, the document,
//! the sighting and the session with its events; plus one S3 GET per uploaded file.

use axum::extract::State;
use axum::response::Response;
use idv::domain::auth::Permission;
use idv::domain::event::Actor;
use idv::domain::ids::{DocumentId, SessionId, VerificationId};
use idv::domain::validation::{ObjectReader, ProblemKind, Problems};
use idv::domain::values::{parse_date, Environment, Timestamp};
use idv::domain::verification::{VerificationKind, VerificationStatus};
use idv::http::extract::{Auth, Body, PathId, RawQuery};
use idv::http::jsonapi::{created, ok, respond, RequestDoc};
use idv::http::middleware::BasePath;
use idv::http::pagination::{collection, Cursors, ListParams};
use idv::http::{render, ApiError};
use idv::store::verifications::VerificationFilter;
use idv::verify::{self, Request, VerifyError};
use serde_json::Value;
use time::Date;

use crate::VerifyState;

struct Input {
    kind: VerificationKind,
    document: DocumentId,
    session: Option<SessionId>,
    auto_update_session: bool,
    evaluated_on: Option<Date>,
}

fn read(body: &Value, today: Date) -> Result<Input, Problems> {
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
        (Some(kind), Some(document)) if p.is_empty() => Ok(Input {
            kind,
            document,
            session,
            auto_update_session,
            evaluated_on,
        }),
        _ => Err(p),
    }
}

/// `POST /verifications`: runs the checks and answers 201 with the final result.
pub async fn create(
    State(st): State<VerifyState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::VerificationsWrite)?;
    let today = Timestamp::now().date();
    let input = read(&body.json()?, today)?;
    let request = Request {
        kind: input.kind,
        document: input.document,
        session: input.session,
        auto_update_session: input.auto_update_session,
        evaluated_on: input.evaluated_on.unwrap_or(today),
        // API.md §5: a production key cannot evaluate before the files were uploaded (so an
        // expired document cannot be made to pass); a staging key may, to test rules.
        may_backdate: principal.tenancy.environment == Environment::Staging,
        actor: Actor::api_key(principal.key_id.to_string()),
        only_if_unverified: false,
    };
    let app = &st.app;
    let (verification, _) = match verify::run(
        &app.store,
        &app.objects,
        &principal.tenancy,
        &st.settings,
        app.config.session_lifetime,
        &request,
    )
    .await
    {
        Ok(done) => done,
        Err(VerifyError::Invalid(p)) => return Err(ApiError::Validation(p)),
        Err(VerifyError::Workflow(e)) => return Err(e.into()),
        Err(VerifyError::AlreadyVerified) => return Err(ApiError::Conflict),
    };
    let location = format!("{}/v1/identity/verifications/{}", base.0, verification.id);
    Ok(created(render::verification(&verification), &location))
}

/// `GET /verifications/{id}`.
pub async fn show(
    State(st): State<VerifyState>,
    auth: Auth,
    PathId(id): PathId<VerificationId>,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::VerificationsRead)?;
    let v = st
        .app
        .store
        .get_verification(&principal.tenancy, id)
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(ok(render::verification(&v)))
}

/// The list filters, each under its `filter[…]` name and its bare alias.
const FILTERS: [&str; 8] = [
    "filter[status]",
    "status",
    "filter[session_id]",
    "session_id",
    "filter[created_at_from]",
    "created_at_from",
    "filter[created_at_to]",
    "created_at_to",
];

/// `GET /verifications`.
pub async fn list(
    State(st): State<VerifyState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::VerificationsRead)?;
    let params = ListParams::parse(query.as_deref(), &FILTERS)?;
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
    let cursors = Cursors::new(
        &st.app.config.cursor_secret,
        &principal.tenancy,
        "verifications",
        &params,
    );
    let page = cursors.page_request(&params)?;
    let page = st
        .app
        .store
        .list_verifications(&principal.tenancy, &filter, &page)
        .await?;
    let data = page
        .items
        .iter()
        .map(|(_, v)| render::verification(v))
        .collect();
    let doc = collection(
        &base,
        "/v1/identity/verifications",
        &params,
        &cursors,
        &page,
        data,
    );
    Ok(respond(http::StatusCode::OK, &doc))
}
