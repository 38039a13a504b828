//! Handlers of the documents endpoints.
//!
//! DynamoDB round trips: create 1 (standalone) or 2 (linked: read the session, then one
//! transaction writing the document, the session and its event); add a file 2; submit 2–3
//! plus the lazy check of files still pending; get 1; list 1. With a client token
//! (besides its own two reads in the auth layer): add a file and submit read the document
//! once more first to confine them to the token's session, and submit then runs the
//! verification (as `POST /verifications`: 3 reads and a transaction) and reads the
//! document as it left it.

use axum::extract::{Path, State};
use axum::response::Response;
use idv::domain::auth::{Permission, Principal};
use idv::domain::document::{Document, DocumentFile, DocumentKind, FileStatus};
use idv::domain::ids::DocumentId;
use idv::domain::validation::ProblemKind;
use idv::domain::values::Timestamp;
use idv::domain::verification::VerificationKind;
use idv::http::extract::{Auth, Body, RawQuery};
use idv::http::jsonapi::respond;
use idv::http::middleware::BasePath;
use idv::http::pagination::{collection, Cursors, ListParams};
use idv::http::{render, ApiError, AppState};
use idv::workflow;
use idv::workflow::documents;
use idv::workflow::verify::{self, VerifyError};
use serde_json::{json, Value};

use crate::{input, DocState};

fn kind(segment: &str) -> Result<DocumentKind, ApiError> {
    DocumentKind::from_path_segment(segment).ok_or(ApiError::NotFound)
}

fn doc_id(raw: &str) -> Result<DocumentId, ApiError> {
    DocumentId::parse(raw).map_err(|_| ApiError::NotFound)
}

/// `meta.files`: one presigned PUT per file.
async fn upload_urls(st: &AppState, files: &[&DocumentFile]) -> Result<Value, ApiError> {
    let mut out = Vec::with_capacity(files.len());
    for f in files {
        let p = st
            .objects
            .presign_put(
                &f.object_key,
                f.content_type.as_str(),
                f.byte_size,
                f.checksum.as_deref(),
            )
            .await?;
        let headers: serde_json::Map<String, Value> = p
            .headers
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        out.push(json!({
            "id": f.id.to_string(),
            "presigned_upload_url": p.url,
            "method": "PUT",
            "headers": headers,
            "expires_in": st.objects.upload_url_ttl().as_secs(),
        }));
    }
    Ok(Value::Array(out))
}

/// Download URLs for the uploaded files, only for a caller holding `documents:read`: a
/// `documents:write`-only key (an upload client) gets `null`s and no presigning is done.
async fn download_urls(
    st: &AppState,
    doc: &Document,
    principal: &Principal,
) -> Result<Vec<Option<String>>, ApiError> {
    let mut urls = Vec::with_capacity(doc.files.len());
    // `may_see` also notes the scope, so an idempotent replay of this answer goes only to
    // keys holding it.
    if !idv::http::extract::may_see(principal, Permission::DocumentsRead) {
        urls.resize(doc.files.len(), None);
        return Ok(urls);
    }
    for f in &doc.files {
        urls.push(
            if f.status == FileStatus::Uploaded && doc.redacted_at.is_none() {
                Some(st.objects.presign_get(&f.object_key).await?)
            } else {
                None
            },
        );
    }
    Ok(urls)
}

/// The document as `principal` may see it (download URLs only with `documents:read`).
async fn render_doc(
    st: &AppState,
    doc: &Document,
    principal: &Principal,
) -> Result<Value, ApiError> {
    Ok(render::document(
        doc,
        &download_urls(st, doc, principal).await?,
    ))
}

fn document_response(
    status: http::StatusCode,
    resource: Value,
    meta: Option<Value>,
    location: Option<&str>,
) -> Response {
    let mut body = json!({ "data": resource });
    if let Some(m) = meta {
        body["meta"] = m;
    }
    let mut r = respond(status, &body);
    if let Some(l) = location.and_then(|l| http::HeaderValue::from_str(l).ok()) {
        r.headers_mut().insert(http::header::LOCATION, l);
    }
    r
}

/// `POST /documents/{kind}/{id}/redact`: redacts a standalone document (see
/// `workflow::redact_standalone_document`); a document of a session answers 409
/// `invalid_transition` (`meta.status` `in_session`, `meta.action` `redact`).
pub async fn redact(
    State(st): State<AppState>,
    auth: Auth,
    Path((kind_segment, raw_id)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::SessionsRedact)?;
    let kind = kind(&kind_segment)?;
    let id = doc_id(&raw_id)?;
    if let Some(v) = body.optional_json()? {
        idv::http::jsonapi::empty_action(&v)?;
    }
    // The kind in the path must match, as for every other route of a document.
    documents::load(&st.store, &principal.tenancy, kind, id).await?;
    let doc = workflow::redact_standalone_document(
        &st.store,
        &st.objects,
        &principal.tenancy,
        id,
        Timestamp::now(),
    )
    .await?;
    Ok(document_response(
        http::StatusCode::OK,
        render_doc(&st, &doc, &principal).await?,
        None,
        None,
    ))
}

/// `POST /documents/{kind}`.
pub async fn create(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    Path(kind_segment): Path<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require_allowing_client(Permission::DocumentsWrite)?;
    let kind = kind(&kind_segment)?;
    let mut input = input::new_document(kind, &body.json()?)?;
    if let Some(token) = &principal.client {
        confine_new_document(&mut input, token.session_id)?;
    }
    let doc = documents::prepare(&principal.tenancy, kind, input, Timestamp::now());
    // Presigning is local work; done before the write so a failure leaves nothing behind.
    let files: Vec<&DocumentFile> = doc.files.iter().collect();
    let meta = json!({ "files": upload_urls(&st, &files).await? });
    let actor = principal.actor();
    let lifetime = st.config.session_lifetime;
    let doc = documents::create(&st.store, &principal.tenancy, doc, &actor, lifetime).await?;
    let segment = kind.path_segment();
    let location = format!("{}/v1/identity/documents/{segment}/{}", base.0, doc.id);
    Ok(document_response(
        http::StatusCode::CREATED,
        render_doc(&st, &doc, &principal).await?,
        Some(meta),
        Some(&location),
    ))
}

/// `GET /documents/{kind}/{id}`.
pub async fn show(
    State(st): State<AppState>,
    auth: Auth,
    Path((kind_segment, raw_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let principal = auth.require_allowing_client(Permission::DocumentsRead)?;
    let (kind, id) = (kind(&kind_segment)?, doc_id(&raw_id)?);
    let doc = documents::load(&st.store, &principal.tenancy, kind, id).await?;
    if !principal.reaches(doc.session_id) {
        return Err(ApiError::NotFound);
    }
    Ok(document_response(
        http::StatusCode::OK,
        render_doc(&st, &doc, &principal).await?,
        None,
        None,
    ))
}

/// `POST /documents/{kind}/{id}/files`: declares one more file while the document is
/// pending.
pub async fn add_file(
    State(st): State<AppState>,
    auth: Auth,
    Path((kind_segment, raw_id)): Path<(String, String)>,
    body: Body,
) -> Result<Response, ApiError> {
    let principal = auth.require_allowing_client(Permission::DocumentsWrite)?;
    let kind = kind(&kind_segment)?;
    let id = doc_id(&raw_id)?;
    ensure_reachable(&st, &principal, kind, id).await?;
    let decl = input::new_file(kind, &body.json()?)?;
    let (doc, file) = documents::add_file(&st.store, &principal.tenancy, kind, id, decl).await?;
    // Presigning is local signing: it fails only when credentials do, which every other S3
    // call would too. The file then stays pending and is never uploaded; submit needs an
    // uploaded file, so nothing is stranded.
    let meta = json!({ "files": upload_urls(&st, &[&file]).await? });
    Ok(document_response(
        http::StatusCode::CREATED,
        render_doc(&st, &doc, &principal).await?,
        Some(meta),
        None,
    ))
}

/// `POST /documents/{kind}/{id}/submit`: see `workflow::documents::submit`. With a client
/// token the document's verification runs next (with `auto_update_session`), and
/// `meta.verification` gives its id and status: the applicant's flow reaches a result on
/// its own (API.md §9).
pub async fn submit(
    State(st): State<DocState>,
    auth: Auth,
    Path((kind_segment, raw_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let principal = auth.require_allowing_client(Permission::DocumentsWrite)?;
    let (kind, id) = (kind(&kind_segment)?, doc_id(&raw_id)?);
    let app = &st.app;
    ensure_reachable(app, &principal, kind, id).await?;
    let actor = principal.actor();
    let doc = documents::submit(
        &app.store,
        &app.objects,
        &principal.tenancy,
        kind,
        id,
        &actor,
        app.config.session_lifetime,
    )
    .await?;
    if !principal.is_client() {
        return Ok(document_response(
            http::StatusCode::OK,
            render_doc(app, &doc, &principal).await?,
            None,
            None,
        ));
    }
    let verification_kind = match kind {
        DocumentKind::Idv => VerificationKind::Idv,
        DocumentKind::Address => VerificationKind::Address,
    };
    let request = verify::Request {
        kind: verification_kind,
        document: id,
        session: doc.session_id,
        auto_update_session: true,
        evaluated_on: Timestamp::now().date(),
        may_backdate: false,
        actor,
        // The integrator may have verified it already: the page then reads that result.
        only_if_unverified: true,
    };
    let tenancy = &principal.tenancy;
    let lifetime = app.config.session_lifetime;
    let ran = verify::run(
        &app.store,
        &app.objects,
        tenancy,
        &st.settings,
        lifetime,
        &request,
    )
    .await;
    let verification = match ran {
        Ok((v, _)) => Some(v),
        Err(VerifyError::AlreadyVerified) => None,
        Err(VerifyError::Invalid(p)) => return Err(ApiError::Validation(p)),
        Err(VerifyError::Workflow(e)) => return Err(e.into()),
    };
    // The document as the verification left it (processed or failed, linked to it).
    let doc = documents::load(&app.store, tenancy, kind, id).await?;
    let meta = verification
        .map(|v| json!({"verification": {"id": v.id.to_string(), "status": v.status.as_str()}}));
    Ok(document_response(
        http::StatusCode::OK,
        render_doc(app, &doc, &principal).await?,
        meta,
        None,
    ))
}

/// For a client token, 404 unless document `id` is of its session (one GetItem, for
/// tokens only: a key reaches every document of its tenancy).
async fn ensure_reachable(
    st: &AppState,
    principal: &Principal,
    kind: DocumentKind,
    id: DocumentId,
) -> Result<(), ApiError> {
    if !principal.is_client() {
        return Ok(());
    }
    let doc = documents::load(&st.store, &principal.tenancy, kind, id).await?;
    if principal.reaches(doc.session_id) {
        Ok(())
    } else {
        Err(ApiError::NotFound)
    }
}

/// A client token creates documents of its own session only: the session defaults to it,
/// another one reads as unknown, and an account cannot be named.
fn confine_new_document(
    input: &mut documents::NewDocument,
    session: idv::domain::ids::SessionId,
) -> Result<(), ApiError> {
    if input.session.is_some_and(|s| s != session) {
        return Err(ApiError::invalid(
            ProblemKind::Relationship,
            "/data/relationships/session/data/id",
            "no such session",
        ));
    }
    if input.account.is_some() {
        return Err(ApiError::ClientTokenRefused {
            scope: Permission::DocumentsWrite,
            pointer: Some("/data/relationships/account".into()),
        });
    }
    input.session = Some(session);
    Ok(())
}

/// `GET /documents/{kind}`.
pub async fn list(
    State(st): State<AppState>,
    auth: Auth,
    axum::Extension(base): axum::Extension<BasePath>,
    Path(kind_segment): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::DocumentsRead)?;
    let kind = kind(&kind_segment)?;
    let params = ListParams::parse(query.as_deref(), &input::LIST_FILTERS)?;
    let filter = input::list_filter(&params)?;
    let list = format!("documents:{}", kind.path_segment());
    let cursors = Cursors::new(&st.config.cursor_secret, &principal.tenancy, &list, &params);
    let page = cursors.page_request(&params)?;
    let page = st
        .store
        .list_documents(&principal.tenancy, kind, &filter, &page)
        .await?;
    let mut data = Vec::with_capacity(page.items.len());
    for (_, d) in &page.items {
        data.push(render_doc(&st, d, &principal).await?);
    }
    let path = format!("/v1/identity/documents/{}", kind.path_segment());
    let doc = collection(&base, &path, &params, &cursors, &page, data);
    Ok(respond(http::StatusCode::OK, &doc))
}
