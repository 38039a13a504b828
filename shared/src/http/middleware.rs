//! The layers every API function runs a request through, outermost first:
//!
//! 1. **request id** ([`super::request_id`]): the Lambda request id (or a fresh one outside
//!    Lambda) goes into the logging span, the `X-Request-Id` response header and
//!    `meta.request_id` of a 500;
//! 2. **path**: API Gateway REST puts the stage (`/prod`) or a custom-domain base path in
//!    front of `/v1/identity/…`; it is stripped here and remembered for links;
//! 3. **body**: read whole, at most 256 KiB (413 otherwise);
//! 4. **auth**: `X-Api-Key`, or a client token as `Authorization: Bearer ct_…` →
//!    [`Principal`] (401 otherwise, and when both are sent);
//! 5. **idempotency**: replays the first response to a POST with the same `Idempotency-Key`,
//!    only to a key holding the scopes it was given under; refusals (401/403) are not kept.
//!
//! [`app`] assembles them around a function's routes.

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::{from_fn, from_fn_with_state, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use http::{header, HeaderValue, Method, Uri};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};

use super::auth::{authenticate, authenticate_client_token};
use super::error::ApiError;
use super::extract::recording_scopes;
use super::request_id::request_id_layer;
use super::AppState;
use crate::domain::auth::Principal;
use crate::domain::session::Session;
use crate::domain::values::Timestamp;
use crate::store::idempotency::{Claim, StoredResponse};

/// Largest accepted request body.
pub const MAX_BODY: usize = 256 * 1024;

/// What API Gateway put before `/v1/…` (a stage, a base path), so links can keep it.
#[derive(Debug, Clone, Default)]
pub struct BasePath(pub String);

/// The request body, read once by [`body_layer`].
#[derive(Debug, Clone)]
pub struct RawBody(pub Bytes);

/// Splits `/prod/v1/identity/…` into (`/prod`, `/v1/identity/…`).
fn split_base_path(path: &str) -> (&str, &str) {
    if path.starts_with("/v1/") || path == "/v1" {
        return ("", path);
    }
    match path.find("/v1/identity") {
        Some(i) => (&path[..i], &path[i..]),
        None => ("", path),
    }
}

async fn path_layer(mut req: Request, next: Next) -> Response {
    let (base, rest) = split_base_path(req.uri().path());
    if !base.is_empty() {
        let base = base.to_owned();
        let rewritten = match req.uri().query() {
            Some(q) => format!("{rest}?{q}"),
            None => rest.to_owned(),
        };
        if let Ok(uri) = rewritten.parse::<Uri>() {
            *req.uri_mut() = uri;
        }
        req.extensions_mut().insert(BasePath(base));
    } else {
        req.extensions_mut().insert(BasePath::default());
    }
    next.run(req).await
}

async fn body_layer(req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    let bytes = match limited.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            return ApiError::PayloadTooLarge.into_response();
        }
        Err(_) => return ApiError::InvalidJson.into_response(),
    };
    parts.extensions.insert(RawBody(bytes.clone()));
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The session a client token was checked against, read by the auth layer: a handler
/// serving that session may use it instead of reading it again.
#[derive(Debug, Clone)]
pub struct ClientSession(pub Session);

async fn auth_layer(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    // Owned copies: the request (whose body is not `Sync`) must not be borrowed across the
    // lookups below.
    let header = |headers: &http::HeaderMap, name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .unwrap_or_default()
            .to_owned()
    };
    let key = header(req.headers(), "x-api-key");
    let authorization = header(req.headers(), "authorization");
    let bearer = authorization
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let outcome = match (key.is_empty(), bearer) {
        (true, Some(token)) => authenticate_client_token(&state, &token)
            .await
            .map(|(principal, session)| (principal, Some(session))),
        // Both credentials at once is ambiguous: which one acts? Neither.
        (false, Some(_)) => Err(ApiError::Unauthorized),
        (_, None) => authenticate(&state, &key).await.map(|p| (p, None)),
    };
    match outcome {
        Ok((principal, session)) => {
            req.extensions_mut().insert(principal);
            if let Some(session) = session {
                req.extensions_mut().insert(ClientSession(session));
            }
            next.run(req).await
        }
        Err(e) => e.into_response(),
    }
}

/// Headers a replay repeats besides the body.
const REPLAYED_HEADERS: [header::HeaderName; 2] = [header::LOCATION, header::CONTENT_TYPE];

async fn idempotency_layer(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if req.method() != Method::POST {
        return next.run(req).await;
    }
    let Some(raw_key) = req.headers().get("idempotency-key") else {
        return next.run(req).await;
    };
    let key = match raw_key.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) => k.to_owned(),
        _ => {
            return ApiError::InvalidHeader {
                header: "Idempotency-Key",
                detail: "must be 1 to 255 visible ASCII characters".into(),
            }
            .into_response()
        }
    };
    let (Some(principal), Some(RawBody(body))) = (
        req.extensions().get::<Principal>().cloned(),
        req.extensions().get::<RawBody>().cloned(),
    ) else {
        return next.run(req).await;
    };
    // A client token's keys live apart from the tenancy's: an applicant must never be
    // replayed an answer given to the integrator (or another applicant) who chose the same
    // key for the same body.
    let key_hash = match &principal.client {
        None => hex::encode(Sha256::digest(key.as_bytes())),
        Some(token) => hex::encode(Sha256::digest(
            format!("client#{}#{key}", token.session_id).as_bytes(),
        )),
    };
    let mut h = Sha256::new();
    h.update(req.method().as_str().as_bytes());
    h.update(b"\n");
    h.update(req.uri().path().as_bytes());
    h.update(b"\n");
    h.update(&body);
    let fingerprint = hex::encode(h.finalize());
    let tenancy = principal.tenancy.clone();
    let store = &state.store;

    match store
        .claim_idempotency(&tenancy, &key_hash, &fingerprint, Timestamp::now())
        .await
    {
        Err(e) => ApiError::from(e).into_response(),
        Ok(Claim::Existing(record)) => {
            // A replay is still an authorized request: the key must hold every scope the
            // first answer was given under (records are per tenancy, not per key).
            if let Some(missing) = record
                .response
                .iter()
                .flat_map(|r| r.scopes.iter())
                .find(|p| !principal.can(**p))
            {
                return ApiError::Forbidden(*missing).into_response();
            }
            if record.fingerprint != fingerprint {
                return ApiError::IdempotencyKeyReused.into_response();
            }
            match record.response {
                // What the first response showed has since been redacted; its body is gone,
                // and replaying anything else would be a different answer.
                Some(_) if record.redacted => {
                    redacted_answer(record.subject.as_deref()).into_response()
                }
                Some(stored) => replay(stored),
                None => ApiError::Conflict.into_response(),
            }
        }
        Ok(Claim::Acquired) => {
            let ((response, writes), scopes) =
                recording_scopes(crate::store::watch_writes(next.run(req))).await;
            let (parts, body) = response.into_parts();
            let bytes = match body.collect().await {
                Ok(c) => c.to_bytes(),
                Err(e) => {
                    return ApiError::internal(std::io::Error::other(e.to_string())).into_response()
                }
            };
            let status = parts.status.as_u16();
            // Keep final answers; give the key back when a retry could succeed.
            // 401/403 are never kept either: another key of the tenancy may send the same
            // key and body, and if it may act, its request must run.
            let retryable = status >= 500
                || status == 429
                || status == 401
                || status == 403
                || (status == 409 && is_conflict(&bytes));
            let outcome = if retryable && writes.may_have_written() {
                // A transaction committed or may have (it timed out after being sent):
                // running the request again could do it twice. Keep the key claimed, so a
                // retry gets 409 `conflict` until the lease ends.
                tracing::warn!(
                    status,
                    ?writes,
                    "request failed after writing; idempotency key kept until its lease ends"
                );
                Ok(())
            } else if retryable {
                store
                    .release_idempotency(&tenancy, &key_hash, &fingerprint)
                    .await
            } else {
                let stored = StoredResponse {
                    status,
                    headers: REPLAYED_HEADERS
                        .iter()
                        .filter_map(|h| {
                            parts
                                .headers
                                .get(h)
                                .and_then(|v| v.to_str().ok())
                                .map(|v| (h.to_string(), v.to_owned()))
                        })
                        .collect(),
                    body: withhold_secrets(&bytes),
                    scopes,
                };
                let subject = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| redaction_subject(&v));
                store
                    .complete_idempotency(
                        &tenancy,
                        &key_hash,
                        &fingerprint,
                        stored,
                        subject,
                        Timestamp::now(),
                    )
                    .await
            };
            if let Err(e) = outcome {
                // The request itself succeeded; a retry will find the key still leased and
                // get 409 until the lease ends, never a second execution.
                tracing::warn!(error = %super::error::chain(&e), "could not record idempotent response");
            }
            Response::from_parts(parts, Body::from(bytes))
        }
    }
}

/// The body a stored answer keeps: as sent, except that a secret shown once is never
/// written to the table in plain text: a webhook signing secret (create, rotate-secret)
/// and a client token (`client-token`), whose `capture_url` carries it too. A replay
/// answers them as null and says why in `meta`; a webhook secret exists only sealed
/// (`webhooks::seal`), a token only as its hash, and a client that lost the first answer
/// rotates the secret or issues a new token.
fn withhold_secrets(bytes: &[u8]) -> String {
    let as_sent = || String::from_utf8_lossy(bytes).into_owned();
    let Ok(mut v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return as_sent();
    };
    let attributes = &mut v["data"]["attributes"];
    let shown = |name: &str, prefix: &str| {
        attributes[name]
            .as_str()
            .is_some_and(|s| s.starts_with(prefix))
    };
    let (withheld, note): (&[&str], _) = if shown("secret", "whsec_") {
        (
            &["secret"],
            (
                "secret",
                "shown only in the first answer; POST rotate-secret for a new one",
            ),
        )
    } else if shown("token", "ct_") {
        (
            &["token", "capture_url"],
            (
                "token",
                "shown only in the first answer; POST client-token for a new one",
            ),
        )
    } else {
        return as_sent();
    };
    for name in withheld {
        attributes[*name] = serde_json::Value::Null;
    }
    v["meta"][note.0] = serde_json::json!(note.1);
    v.to_string()
}

/// The id under which a stored answer is indexed for `Store::scrub_idempotency`: the
/// resource whose redaction removes what the answer shows. That is the session the answer's
/// resource belongs to (a device, a document or a verification of a session), else the
/// document a verification is of, else the resource itself (a session, an account, a
/// document of no session). Redacting a session scrubs its id, redacting an account scrubs
/// its own and its sessions', redacting a document scrubs the document's.
fn redaction_subject(body: &serde_json::Value) -> Option<String> {
    let data = &body["data"];
    let related = |name: &str| data["relationships"][name]["data"]["id"].as_str();
    related("session")
        .or_else(|| related("document"))
        .or_else(|| data["id"].as_str())
        .map(str::to_owned)
}

/// What a replay answers once its stored answer was scrubbed: the redacted thing by name,
/// `account_redacted` for an account's answer, else `session_redacted` (the subject is a
/// session, or a document that was redacted with or like one).
fn redacted_answer(subject: Option<&str>) -> ApiError {
    match subject {
        Some(s) if s.starts_with("acc_") => ApiError::AccountRedacted,
        _ => ApiError::SessionRedacted,
    }
}

fn is_conflict(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["errors"][0]["code"].as_str().map(|c| c == "conflict"))
        .unwrap_or(false)
}

fn replay(stored: StoredResponse) -> Response {
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() =
        http::StatusCode::from_u16(stored.status).unwrap_or(http::StatusCode::OK);
    for (name, value) in stored.headers {
        if let (Ok(n), Ok(v)) = (
            header::HeaderName::try_from(name),
            HeaderValue::from_str(&value),
        ) {
            response.headers_mut().insert(n, v);
        }
    }
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

/// Wraps a function's routes in the common layers. The returned router is what both
/// `lambda_http::run` and the tests serve.
pub fn app(routes: Router, state: AppState) -> Router {
    let routes = routes
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .fallback(|| async { ApiError::NotFound });
    Router::new()
        .fallback_service(routes)
        .layer(from_fn_with_state(state.clone(), idempotency_layer))
        .layer(from_fn_with_state(state, auth_layer))
        .layer(from_fn(body_layer))
        .layer(from_fn(path_layer))
        .layer(from_fn(request_id_layer))
}

/// The layers of an endpoint that needs no credentials (the hosted capture page): the
/// request id and the base path only; no body is read and nothing is looked up.
pub fn public_app(routes: Router) -> Router {
    let routes = routes
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .fallback(|| async { ApiError::NotFound });
    Router::new()
        .fallback_service(routes)
        .layer(from_fn(path_layer))
        .layer(from_fn(request_id_layer))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_answers_are_indexed_under_what_redaction_removes() {
        let of = |v: serde_json::Value| redaction_subject(&v);
        let session = serde_json::json!({"data": {"type": "session", "id": "sess_1",
            "relationships": {"account": {"data": {"type": "account", "id": "acc_1"}}}}});
        assert_eq!(of(session).as_deref(), Some("sess_1"));
        let device = serde_json::json!({"data": {"type": "session_device", "id": "dev_1",
            "relationships": {"session": {"data": {"type": "session", "id": "sess_1"}}}}});
        assert_eq!(of(device).as_deref(), Some("sess_1"));
        let standalone = serde_json::json!({"data": {"type": "verification/idv", "id": "ver_1",
            "relationships": {"session": {"data": null},
                              "document": {"data": {"type": "document/idv", "id": "doc_1"}}}}});
        assert_eq!(of(standalone).as_deref(), Some("doc_1"));
        let document = serde_json::json!({"data": {"type": "document/idv", "id": "doc_2",
            "relationships": {"session": {"data": null}, "account": {"data": null}}}});
        assert_eq!(of(document).as_deref(), Some("doc_2"));
        assert_eq!(of(serde_json::json!({"errors": []})), None);
    }

    #[test]
    fn a_scrubbed_replay_names_what_was_redacted() {
        let code = |s: Option<&str>| match redacted_answer(s) {
            ApiError::AccountRedacted => "account_redacted",
            ApiError::SessionRedacted => "session_redacted",
            other => panic!("{other:?}"),
        };
        assert_eq!(code(Some("acc_01")), "account_redacted");
        assert_eq!(code(Some("sess_01")), "session_redacted");
        assert_eq!(code(Some("doc_01")), "session_redacted");
        assert_eq!(code(None), "session_redacted");
    }

    #[test]
    fn base_paths_are_split_off() {
        assert_eq!(
            split_base_path("/v1/identity/sessions"),
            ("", "/v1/identity/sessions")
        );
        assert_eq!(
            split_base_path("/prod/v1/identity/sessions"),
            ("/prod", "/v1/identity/sessions")
        );
        assert_eq!(
            split_base_path("/kyc/prod/v1/identity/x"),
            ("/kyc/prod", "/v1/identity/x")
        );
        assert_eq!(split_base_path("/other"), ("", "/other"));
    }
}
