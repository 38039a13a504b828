//! Handlers of the verifications endpoints.
//!
//! DynamoDB round trips of a create: GetItem document, GetItem session, Query fingerprint
//! sightings (ID documents), then one transaction writing the verification, the document,
//! the sighting and the session with its events; plus one S3 GET per uploaded file.

use axum::extract::State;
use axum::response::Response;
use idv::domain::auth::Permission;
use idv::domain::ids::VerificationId;
use idv::domain::values::{Environment, Timestamp};
use idv::http::extract::{Auth, Body, PathId, RawQuery};
use idv::http::jsonapi::{created, ok, respond};
use idv::http::middleware::BasePath;
use idv::http::pagination::{collection, Cursors, ListParams};
use idv::http::{render, ApiError};
use idv::workflow::verify::{self, Request, VerifyError};

use crate::{input, VerifyState};

/// `POST /verifications`: runs the checks and answers 201 with the final result.
pub async fn create(
    State(st): State<VerifyState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::VerificationsWrite)?;
    let today = Timestamp::now().date();
    let input = input::new_verification(&body.json()?, today)?;
    let request = Request {
        kind: input.kind,
        document: input.document,
        session: input.session,
        auto_update_session: input.auto_update_session,
        evaluated_on: input.evaluated_on.unwrap_or(today),
        // API.md §5: a production key cannot evaluate before the files were uploaded (so an
        // expired document cannot be made to pass); a staging key may, to test rules.
        may_backdate: principal.tenancy.environment == Environment::Staging,
        actor: principal.actor(),
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
    let principal = auth.require_allowing_client(Permission::VerificationsRead)?;
    let v = st
        .app
        .store
        .get_verification(&principal.tenancy, id)
        .await?
        .filter(|v| principal.reaches(v.session_id))
        .ok_or(ApiError::NotFound)?;
    Ok(ok(if principal.is_client() {
        render::verification_for_applicant(&v)
    } else {
        render::verification(&v)
    }))
}

/// `GET /verifications`.
pub async fn list(
    State(st): State<VerifyState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::VerificationsRead)?;
    let params = ListParams::parse(query.as_deref(), &input::LIST_FILTERS)?;
    let filter = input::list_filter(&params)?;
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
