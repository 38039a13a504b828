//! Handlers of the accounts endpoints.
//!
//! DynamoDB round trips: create 1; get 2 in parallel (the account, its newest sessions);
//! list 1 per partition; patch 2 (read, conditional write); redact: read and mark, one
//! consistent Query of open children, a bounded batch of child redactions (≤ 25, ≤ 5 s),
//! progress or final write, scrub, linkage (README, Accounts).

use axum::extract::State;
use axum::response::Response;
use idv::domain::account::Account;
use idv::domain::auth::Permission;
use idv::domain::ids::AccountId;
use idv::domain::values::Timestamp;
use idv::http::extract::{Auth, Body, PathId, RawQuery};
use idv::http::jsonapi::{created, ok, respond};
use idv::http::middleware::BasePath;
use idv::http::pagination::{collection, Cursors, ListParams};
use idv::http::{render, ApiError, AppState};
use idv::workflow::{self, accounts};

use crate::input;

/// How many sessions and documents an account shows as linkage.
const LINKED: i32 = 100;

/// The account's newest sessions and documents (2 Queries, in parallel).
async fn linkage(
    st: &AppState,
    tenancy: &idv::domain::values::Tenancy,
    id: AccountId,
) -> Result<(Vec<String>, Vec<idv::domain::session::DocumentRef>), ApiError> {
    let (sessions, documents) = tokio::join!(
        st.store.account_session_ids(tenancy, id, LINKED),
        st.store.account_document_refs(tenancy, id, LINKED),
    );
    Ok((sessions?, documents?))
}

/// An account as the API shows it: `render::account`, plus `meta.redaction` while a
/// redaction is in progress (`{"status": "in_progress", "started_at", "sessions_redacted",
/// "documents_redacted"}`; README, Accounts).
fn render_account(
    a: &Account,
    sessions: &[String],
    documents: &[idv::domain::session::DocumentRef],
    base: &str,
) -> serde_json::Value {
    let mut r = render::account(a, sessions, documents, base);
    if let Some(p) = &a.redaction {
        r["meta"] = serde_json::json!({"redaction": {
            "status": "in_progress",
            "started_at": p.started_at.to_string(),
            "sessions_redacted": p.sessions_redacted,
            "documents_redacted": p.documents_redacted,
        }});
    }
    r
}

/// `POST /accounts`.
pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::AccountsWrite)?;
    let account = input::new_account(body.json()?, Timestamp::now())?;
    let actor = principal.actor();
    accounts::create(&st.store, &principal.tenancy, &account, &actor).await?;
    let location = format!("{}/v1/identity/accounts/{}", base.0, account.id);
    Ok(created(
        render_account(&account, &[], &[], &base.0),
        &location,
    ))
}

/// `GET /accounts/{id}`.
pub async fn show(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    PathId(id): PathId<AccountId>,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::AccountsRead)?;
    let (account, links) = tokio::join!(
        st.store.get_account(&principal.tenancy, id),
        linkage(&st, &principal.tenancy, id),
    );
    let account = account?.ok_or(ApiError::NotFound)?;
    let (sessions, documents) = links?;
    Ok(ok(render_account(&account, &sessions, &documents, &base.0)))
}

/// An account as a list shows it: relationship links only, since linkage would cost a
/// query per account.
fn list_item(a: &Account, base: &str) -> serde_json::Value {
    let mut r = render_account(a, &[], &[], base);
    for rel in ["sessions", "documents"] {
        if let Some(o) = r["relationships"][rel].as_object_mut() {
            o.remove("data");
        }
    }
    r
}

/// `GET /accounts`.
pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::AccountsRead)?;
    let params = ListParams::parse(query.as_deref(), &input::LIST_FILTERS)?;
    let (external_id, statuses) = input::list_filter(&params)?;
    let cursors = Cursors::new(
        &st.config.cursor_secret,
        &principal.tenancy,
        "accounts",
        &params,
    );
    let page_req = cursors.page_request(&params)?;
    let page = st
        .store
        .list_accounts(
            &principal.tenancy,
            external_id.as_deref(),
            &statuses,
            (None, None),
            &page_req,
        )
        .await?;
    let data = page
        .items
        .iter()
        .map(|(_, a)| list_item(a, &base.0))
        .collect();
    let doc = collection(
        &base,
        "/v1/identity/accounts",
        &params,
        &cursors,
        &page,
        data,
    );
    Ok(respond(http::StatusCode::OK, &doc))
}

/// `PATCH /accounts/{id}`.
pub async fn update(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    PathId(id): PathId<AccountId>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::AccountsWrite)?;
    let patch = input::account_patch(body.json()?, &id.to_string())?;
    let tenancy = &principal.tenancy;
    let account = accounts::update(&st.store, tenancy, id, |a, now| patch.apply(a, now)).await?;
    let (sessions, documents) = linkage(&st, tenancy, id).await?;
    Ok(ok(render_account(&account, &sessions, &documents, &base.0)))
}

/// `POST /accounts/{id}/redact`: marks the account redacting (its own data removed at once,
/// nothing new accepted), redacts up to `workflow::ACCOUNT_REDACTION_BATCH` of its sessions
/// and documents, and answers 200 when that was all of them, else 202 with the account's
/// `meta.redaction`: the sweep (`expiry-sweep`) finishes it. Repeating the call continues it.
pub async fn redact(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    PathId(id): PathId<AccountId>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::SessionsRedact)?;
    if let Some(v) = body.optional_json()? {
        idv::http::jsonapi::empty_action(&v)?;
    }
    let actor = principal.actor();
    let step = workflow::redact_account_step(
        &st.store,
        &st.objects,
        &principal.tenancy,
        id,
        &actor,
        Timestamp::now(),
        workflow::ACCOUNT_REDACTION_BATCH,
    )
    .await?;
    let (status, account) = match step {
        workflow::AccountRedaction::Done(a) => (http::StatusCode::OK, a),
        workflow::AccountRedaction::InProgress(a) => (http::StatusCode::ACCEPTED, a),
    };
    let (sessions, documents) = linkage(&st, &principal.tenancy, id).await?;
    Ok(respond(
        status,
        &serde_json::json!({"data": render_account(&account, &sessions, &documents, &base.0)}),
    ))
}
