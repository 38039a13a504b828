//! Handlers of the documents endpoints.
//!
//! DynamoDB round trips: create 1 (standalone) or 2 (linked: read the session, then one
//! transaction writing the document, the session and its event); add a file 2; submit 2–3
//! plus the lazy check of files still pending; get 1; list 1.

use axum::extract::{Path, State};
use axum::response::Response;
use idv::domain::auth::{Permission, Principal};
use idv::domain::document::{
    object_key, Document, DocumentAction, DocumentFile, DocumentKind, DocumentStatus, FileStatus,
};
use idv::domain::event::{Actor, Event};
use idv::domain::ids::{AccountId, DocumentId, FileId, SessionId};
use idv::domain::session::{Action, DocumentRef};
use idv::domain::validation::{ProblemKind, Problems};
use idv::domain::values::{Tenancy, Timestamp};
use idv::http::extract::{Auth, Body, RawQuery};
use idv::http::jsonapi::respond;
use idv::http::middleware::BasePath;
use idv::http::pagination::{collection, Cursors, ListParams};
use idv::http::{render, ApiError, AppState};
use idv::store::accounts::{account_refusal, link_child_ops, AccountRefusal, OPEN_DOCUMENT};
use idv::store::documents::{put_document_if_unchanged, put_new_document, DocumentFilter};
use idv::store::objects::UPLOAD_URL_TTL;
use idv::store::sessions::session_write_ops;
use idv::store::StoreError;
use idv::uploads;
use idv::workflow::{self, WorkflowError};
use serde_json::{json, Value};

use crate::input::{self, FileDecl};

/// Attempts of a read–write loop before answering `409 conflict`.
const ATTEMPTS: usize = 8;

fn kind(segment: &str) -> Result<DocumentKind, ApiError> {
    DocumentKind::from_path_segment(segment).ok_or(ApiError::NotFound)
}

fn doc_id(raw: &str) -> Result<DocumentId, ApiError> {
    DocumentId::parse(raw).map_err(|_| ApiError::NotFound)
}

fn relationship_problem(name: &str, detail: &str) -> ApiError {
    ApiError::invalid(
        ProblemKind::Relationship,
        &format!("/data/relationships/{name}/data/id"),
        detail,
    )
}

/// Declared files with their ids and object keys.
fn declare(
    tenancy: &Tenancy,
    doc: DocumentId,
    decls: Vec<FileDecl>,
    now: Timestamp,
) -> Vec<DocumentFile> {
    decls
        .into_iter()
        .map(|d| {
            let id = FileId::new(now.datetime());
            DocumentFile {
                id,
                filename: Some(d.filename),
                content_type: d.content_type,
                byte_size: d.byte_size,
                side: d.side,
                checksum: d.checksum,
                status: FileStatus::PendingUpload,
                reason: None,
                object_key: object_key(tenancy, doc, id),
                uploaded_at: None,
                sha256: None,
            }
        })
        .collect()
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
            "expires_in": UPLOAD_URL_TTL.as_secs(),
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

/// Why a document's account refused it, read again after a failed condition: `None` when
/// the account takes documents (the condition that failed was another one).
async fn account_refused(
    st: &AppState,
    tenancy: &Tenancy,
    account: Option<AccountId>,
) -> Result<Option<ApiError>, ApiError> {
    let Some(account) = account else {
        return Ok(None);
    };
    Ok(match st.store.get_account(tenancy, account).await? {
        None => Some(relationship_problem("account", "no such account")),
        Some(a) if a.is_redacting_or_redacted() => Some(ApiError::AccountRedacted),
        Some(_) => None,
    })
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
    if body
        .optional_json()?
        .is_some_and(|b| b.as_object().is_none_or(|o| !o.is_empty()))
    {
        return Err(ApiError::invalid(
            ProblemKind::Unknown,
            "",
            "this request takes no body",
        ));
    }
    // The kind in the path must match, as for every other route of a document.
    load(&st, &principal.tenancy, kind, id).await?;
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
    let principal = auth.require(Permission::DocumentsWrite)?;
    let kind = kind(&kind_segment)?;
    let input = input::new_document(kind, &body.json()?)?;
    let tenancy = &principal.tenancy;
    let now = Timestamp::now();
    let id = DocumentId::new(now.datetime());
    let mut doc = Document {
        id,
        kind,
        version: 1,
        status: DocumentStatus::Pending,
        document_type: input.document_type.clone(),
        declared_type: input.document_type,
        session_id: input.session,
        account_id: input.account,
        files: declare(tenancy, id, input.files, now),
        extracted: None,
        verification_ids: Vec::new(),
        created_at: now,
        updated_at: now,
        submitted_at: None,
        processed_at: None,
        redacted_at: None,
        files_deleted_at: None,
    };
    // Presigning is local work; done before the write so a failure leaves nothing behind.
    let files: Vec<&DocumentFile> = doc.files.iter().collect();
    let meta = json!({ "files": upload_urls(&st, &files).await? });

    match input.session {
        Some(session) => {
            if let Some(account) = input.account {
                match st.store.get_account(tenancy, account).await? {
                    None => return Err(relationship_problem("account", "no such account")),
                    Some(a) if a.is_redacting_or_redacted() => {
                        return Err(ApiError::AccountRedacted)
                    }
                    Some(_) => {}
                }
            }
            let actor = Actor::api_key(principal.key_id.to_string());
            let mut written = None;
            let result = workflow::modify_session(&st.store, tenancy, session, now, |current| {
                if let (Some(a), Some(b)) = (input.account, current.account_id) {
                    if a != b {
                        let mut p = Problems::default();
                        p.push(
                            ProblemKind::Relationship,
                            "/data/relationships/account/data/id",
                            "differs from the session's account",
                        );
                        return Err(WorkflowError::Invalid(p));
                    }
                }
                let mut d = doc.clone();
                d.account_id = input.account.or(current.account_id);
                // The cap is checked on the session as read; the write is conditional on
                // its version, so racing creates cannot pass it together.
                let mut linked = Ok(());
                let mut change = workflow::attach_change(
                    current,
                    "attach_document",
                    "documents",
                    &actor,
                    now,
                    st.config.session_lifetime,
                    |s| linked = s.link_document(DocumentRef { id, kind }),
                )?;
                linked?;
                change.extra.push(put_new_document(&st.store, tenancy, &d)?);
                change.extra.extend(link_child_ops(
                    &st.store,
                    tenancy,
                    d.account_id,
                    OPEN_DOCUMENT,
                    &d.id,
                )?);
                written = Some(d);
                Ok(Some(change))
            })
            .await;
            match result {
                Ok(_) => {}
                Err(WorkflowError::NotFound) => {
                    return Err(relationship_problem("session", "no such session"))
                }
                Err(WorkflowError::Store(e @ StoreError::ConditionFailed { .. })) => {
                    let account = written.as_ref().and_then(|d| d.account_id);
                    return Err(account_refused(&st, tenancy, account)
                        .await?
                        .unwrap_or_else(|| e.into()));
                }
                Err(e) => return Err(e.into()),
            }
            if let Some(d) = written {
                doc = d;
            }
        }
        None => {
            let mut ops = vec![put_new_document(&st.store, tenancy, &doc)?];
            ops.extend(link_child_ops(
                &st.store,
                tenancy,
                doc.account_id,
                OPEN_DOCUMENT,
                &doc.id,
            )?);
            match st.store.transact("creating a document", ops).await {
                Ok(()) => {}
                Err(e) => match account_refusal(&e, 1) {
                    Some(AccountRefusal::Missing) => {
                        return Err(relationship_problem("account", "no such account"))
                    }
                    Some(AccountRefusal::Redacted) => return Err(ApiError::AccountRedacted),
                    None => return Err(e.into()),
                },
            }
        }
    }
    let location = format!(
        "{}/v1/identity/documents/{}/{}",
        base.0,
        kind.path_segment(),
        doc.id
    );
    Ok(document_response(
        http::StatusCode::CREATED,
        render_doc(&st, &doc, &principal).await?,
        Some(meta),
        Some(&location),
    ))
}

async fn load(
    st: &AppState,
    tenancy: &Tenancy,
    kind: DocumentKind,
    id: DocumentId,
) -> Result<Document, ApiError> {
    match st.store.get_document(tenancy, id).await? {
        Some(d) if d.kind == kind => Ok(d),
        _ => Err(ApiError::NotFound),
    }
}

/// `GET /documents/{kind}/{id}`.
pub async fn show(
    State(st): State<AppState>,
    auth: Auth,
    Path((kind_segment, raw_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::DocumentsRead)?;
    let doc = load(
        &st,
        &principal.tenancy,
        kind(&kind_segment)?,
        doc_id(&raw_id)?,
    )
    .await?;
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
    let principal = auth.require(Permission::DocumentsWrite)?;
    let kind = kind(&kind_segment)?;
    let id = doc_id(&raw_id)?;
    let tenancy = &principal.tenancy;
    let decl = input::new_file(kind, &body.json()?)?;
    for _ in 0..ATTEMPTS {
        let current = load(&st, tenancy, kind, id).await?;
        let now = Timestamp::now().at_least(current.updated_at);
        // 409 invalid_transition unless pending.
        let mut next = current.apply(DocumentAction::AddFile, now)?;
        let file = declare(tenancy, id, vec![decl.clone()], now).remove(0);
        let meta = json!({ "files": upload_urls(&st, &[&file]).await? });
        // 409 limit_exceeded at the cap; the write below is conditional on the version read.
        next.add_file(file)?;
        if st.store.replace_document(tenancy, &current, &next).await? {
            return Ok(document_response(
                http::StatusCode::CREATED,
                render_doc(&st, &next, &principal).await?,
                Some(meta),
                None,
            ));
        }
    }
    Err(ApiError::Conflict)
}

/// `POST /documents/{kind}/{id}/submit`: checks files still pending against S3 (a lost
/// event cannot strand a document), needs at least one uploaded file, and moves a linked
/// `created`/`started` session to `pending` in the same transaction.
pub async fn submit(
    State(st): State<AppState>,
    auth: Auth,
    Path((kind_segment, raw_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let principal = auth.require(Permission::DocumentsWrite)?;
    let kind = kind(&kind_segment)?;
    let id = doc_id(&raw_id)?;
    let tenancy = &principal.tenancy;
    let actor = Actor::api_key(principal.key_id.to_string());
    for _ in 0..ATTEMPTS {
        let mut current = load(&st, tenancy, kind, id).await?;
        // 409 invalid_transition unless pending, before any file is checked.
        current.status.after(DocumentAction::Submit)?;
        let pending: Vec<FileId> = current
            .files
            .iter()
            .filter(|f| f.status == FileStatus::PendingUpload)
            .map(|f| f.id)
            .collect();
        if !pending.is_empty() {
            for file in pending {
                uploads::check_file(&st.store, &st.objects, tenancy, id, file, Timestamp::now())
                    .await?;
            }
            current = load(&st, tenancy, kind, id).await?;
        }
        if !current
            .files
            .iter()
            .any(|f| f.status == FileStatus::Uploaded)
        {
            return Err(ApiError::invalid(
                ProblemKind::Invalid,
                "/data/attributes/files",
                "no file has been uploaded yet",
            ));
        }
        let now = Timestamp::now().at_least(current.updated_at);
        let next = current.apply(DocumentAction::Submit, now)?;
        match write_submission(&st, tenancy, &actor, &current, &next, now).await {
            Ok(true) => {
                return Ok(document_response(
                    http::StatusCode::OK,
                    render_doc(&st, &next, &principal).await?,
                    None,
                    None,
                ));
            }
            Ok(false) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(ApiError::Conflict)
}

/// Writes a submitted document and, when its session is `created` or `started`, the
/// session's move to `pending`, atomically. `Ok(false)`: something changed, read again.
async fn write_submission(
    st: &AppState,
    tenancy: &Tenancy,
    actor: &Actor,
    current: &Document,
    next: &Document,
    now: Timestamp,
) -> Result<bool, ApiError> {
    let mut ops = vec![put_document_if_unchanged(
        &st.store, tenancy, current, next,
    )?];
    if let Some(sid) = current.session_id {
        let session = workflow::load_session(&st.store, tenancy, sid, now)
            .await?
            .ok_or(ApiError::NotFound)?;
        // 409 session_redacted, or invalid_transition once decided or expired.
        session.ensure_open("submit_document")?;
        if session.status.awaits_submission() {
            let t = session
                .apply(Action::Submit, now, st.config.session_lifetime)
                .map_err(ApiError::from)?;
            let event = Event::transition(&t, actor.clone(), None);
            ops.extend(session_write_ops(
                &st.store,
                tenancy,
                Some(&session),
                &t.next,
                &[event],
            )?);
        }
    }
    match st.store.transact("submitting a document", ops).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed { .. }) | Err(StoreError::TransactionConflict) => Ok(false),
        Err(e) => Err(e.into()),
    }
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
    let params = ListParams::parse(
        query.as_deref(),
        &["filter[session_id]", "filter[account_id]", "filter[status]"],
    )?;
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
