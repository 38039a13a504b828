//! Extractors: the authenticated principal, request bodies, and ids in paths.

use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::extract::{FromRequestParts, Path};
use http::request::Parts;
use serde_json::Value;

use super::error::ApiError;
use super::middleware::RawBody;
use crate::domain::auth::{Permission, Principal};

/// The caller, as established by the auth layer.
pub struct Auth(pub Principal);

impl Auth {
    /// The principal if it holds `p`, else 403 naming the scope. The scope is noted for the
    /// idempotency layer (see [`recording_scopes`]): a replay of this request's answer
    /// needs it too.
    ///
    /// A client token is refused here whatever its scopes: only the endpoints of the
    /// applicant's side accept one, each by calling [`Auth::require_allowing_client`]
    /// instead, so an endpoint added later refuses tokens until it decides otherwise.
    pub fn require(self, p: Permission) -> Result<Principal, ApiError> {
        if self.0.is_client() {
            note_scope(p);
            return Err(ApiError::ClientTokenRefused {
                scope: p,
                pointer: None,
            });
        }
        self.require_allowing_client(p)
    }

    /// Like [`Auth::require`], but a client token holding `p` passes too. The handler must
    /// then confine what it touches to the token's session
    /// ([`Principal::reaches`]), answering 404 for anything else, as for an unknown id.
    pub fn require_allowing_client(self, p: Permission) -> Result<Principal, ApiError> {
        note_scope(p);
        if self.0.can(p) {
            Ok(self.0)
        } else {
            Err(ApiError::Forbidden(p))
        }
    }
}

/// True if `principal` holds `p`, for a handler whose answer shows more to holders of `p`
/// (download URLs to `documents:read`). When it does, `p` is noted like a required scope,
/// so the answer is replayed only to keys holding `p` as well. A client token never sees
/// more: it can never read files back, whatever it may otherwise read.
pub fn may_see(principal: &Principal, p: Permission) -> bool {
    let held = principal.can(p) && !principal.is_client();
    if held {
        note_scope(p);
    }
    held
}

tokio::task_local! {
    /// The scopes the request being served was checked against (see [`recording_scopes`]).
    static SCOPES: Arc<Mutex<Vec<Permission>>>;
}

fn note_scope(p: Permission) {
    let _ = SCOPES.try_with(|scopes| {
        if let Ok(mut scopes) = scopes.lock() {
            if !scopes.contains(&p) {
                scopes.push(p);
            }
        }
    });
}

/// Runs `f` (a request) and returns its output with the scopes its answer depended on:
/// every [`Auth::require`] and every held [`may_see`] scope. The idempotency layer stores
/// them with the answer and replays it only to a key holding all of them.
pub async fn recording_scopes<F: Future>(f: F) -> (F::Output, Vec<Permission>) {
    let scopes = Arc::new(Mutex::new(Vec::new()));
    let output = SCOPES.scope(Arc::clone(&scopes), f).await;
    let noted = scopes.lock().map(|s| s.clone()).unwrap_or_default();
    (output, noted)
}

impl<S: Send + Sync> FromRequestParts<S> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Auth)
            .ok_or(ApiError::Unauthorized)
    }
}

fn media_type_ok(parts: &Parts) -> bool {
    let Some(ct) = parts.headers.get(http::header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(ct) = ct.to_str() else {
        return false;
    };
    let essence = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json" || essence == "application/vnd.api+json"
}

/// The request body, read by the body layer and parsed only when the handler asks, so that
/// a caller without the endpoint's scope gets 403 before any complaint about its body.
/// (`lambda_http`'s `payload()` is not used: it ignores the JSON:API media type.)
pub struct Body {
    bytes: axum::body::Bytes,
    media_type_ok: bool,
    has_content_type: bool,
}

impl Body {
    /// The body as JSON, from `application/json` or `application/vnd.api+json`.
    pub fn json(&self) -> Result<Value, ApiError> {
        match self.optional_json()? {
            Some(v) => Ok(v),
            None if self.media_type_ok || !self.has_content_type => Err(ApiError::InvalidJson),
            None => Err(ApiError::UnsupportedMediaType),
        }
    }

    /// Like [`Body::json`], but an empty body (the seed's `approve`, `expire`, `redact`) is
    /// `None` and needs no Content-Type.
    pub fn optional_json(&self) -> Result<Option<Value>, ApiError> {
        if self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        if !self.media_type_ok {
            return Err(ApiError::UnsupportedMediaType);
        }
        serde_json::from_slice(&self.bytes)
            .map(Some)
            .map_err(|_| ApiError::InvalidJson)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Body {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Body {
            bytes: parts
                .extensions
                .get::<RawBody>()
                .map(|b| b.0.clone())
                .unwrap_or_default(),
            media_type_ok: media_type_ok(parts),
            has_content_type: parts.headers.contains_key(http::header::CONTENT_TYPE),
        })
    }
}

/// An id in the path, of a known kind; malformed ids answer 404 like unknown ones.
pub struct PathId<T>(pub T);

impl<S: Send + Sync, T: std::str::FromStr> FromRequestParts<S> for PathId<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(raw): Path<String> = Path::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::NotFound)?;
        raw.parse().map(PathId).map_err(|_| ApiError::NotFound)
    }
}

/// The raw query string.
pub struct RawQuery(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for RawQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(RawQuery(parts.uri.query().map(str::to_owned)))
    }
}

/// The caller's IP address as API Gateway saw it (REST `identity.sourceIp`, function-URL
/// `http.sourceIp`), else the first `X-Forwarded-For` entry.
pub struct ClientIp(pub Option<String>);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        use lambda_http::request::RequestContext;
        let from_context = match parts.extensions.get::<RequestContext>() {
            Some(RequestContext::ApiGatewayV1(c)) => c.identity.source_ip.clone(),
            Some(RequestContext::ApiGatewayV2(c)) => c.http.source_ip.clone(),
            _ => None,
        };
        let forwarded = || {
            parts
                .headers
                .get("x-forwarded-for")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split(',').next())
                .map(|ip| ip.trim().to_owned())
        };
        let ip = from_context
            .or_else(forwarded)
            .filter(|ip| ip.parse::<std::net::IpAddr>().is_ok());
        Ok(ClientIp(ip))
    }
}
