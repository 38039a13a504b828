//! The one API error type, and where every failure becomes a JSON:API error response.
//!
//! Each variant names its status and stable code. Internal failures are logged once, with
//! their whole source chain and the request id, and answered with a bare 500 that carries
//! only the request id: never an SDK message, a stack trace or personal data.

use axum::response::{IntoResponse, Response};
use http::{header, HeaderValue, StatusCode};
use serde_json::{json, Value};

use crate::domain::auth::Permission;
use crate::domain::session::DomainError;
use crate::domain::validation::Problems;
use crate::store::StoreError;
use crate::workflow::WorkflowError;

use super::request_id::current_request_id;

/// Every way a request can fail.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400 `invalid_json`: the body is not JSON.
    #[error("invalid JSON")]
    InvalidJson,
    /// 400 `invalid_parameter`: a query parameter is wrong (`source.parameter`).
    #[error("invalid parameter {parameter}")]
    InvalidParameter {
        /// The parameter, e.g. `page[size]`.
        parameter: String,
        /// Why.
        detail: String,
    },
    /// 400 `invalid_parameter` for a header (`source.header`).
    #[error("invalid header {header}")]
    InvalidHeader {
        /// The header.
        header: &'static str,
        /// Why.
        detail: String,
    },
    /// 401 `unauthorized`: missing, unknown, expired or revoked key.
    #[error("unauthorized")]
    Unauthorized,
    /// 403 `forbidden`: the key lacks a scope (`meta.required_scope`).
    #[error("forbidden")]
    Forbidden(Permission),
    /// 403 `forbidden`: a client token asked for something only an API key may do
    /// (`meta.credential: "api_key"`); `pointer` names the attribute when one was refused.
    #[error("forbidden to client tokens")]
    ClientTokenRefused {
        /// The scope a key would need.
        scope: Permission,
        /// The refused attribute, if the refusal is about one.
        pointer: Option<String>,
    },
    /// 403 `sandbox_only`: staging keys only.
    #[error("sandbox only")]
    SandboxOnly,
    /// 404 `not_found`: unknown, foreign or malformed id, or no such route.
    #[error("not found")]
    NotFound,
    /// 405 `method_not_allowed`.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 409 `invalid_transition` (`meta.status`, `meta.action`); the detail names the resource.
    #[error("invalid {resource} transition")]
    InvalidTransition {
        /// What refused: `session` or `document`.
        resource: &'static str,
        /// Current status.
        status: String,
        /// Refused action.
        action: String,
    },
    /// 409 `session_redacted`: the session (or, on a replay, what the stored answer
    /// showed of a session or document) was redacted.
    #[error("session redacted")]
    SessionRedacted,
    /// 409 `account_redacted`: the account was redacted; nothing new may be attached to it.
    #[error("account redacted")]
    AccountRedacted,
    /// 409 `invalid_transition` (`meta.status` `in_session`, `meta.action` `redact`): a
    /// document of a session is redacted with its session, not alone.
    #[error("document in a session")]
    DocumentInSession,
    /// 409 `limit_exceeded` (`meta.limit`): a per-session or per-tenant cap was reached.
    #[error("limit exceeded")]
    LimitExceeded {
        /// The cap's name, e.g. `documents_per_session`.
        limit: &'static str,
        /// Its value.
        max: u64,
    },
    /// 429 `rate_limited` with `Retry-After` (seconds).
    #[error("rate limited")]
    RateLimited {
        /// Seconds until the next request may pass.
        retry_after: u64,
    },
    /// 409 `conflict`: lost a concurrent write, or the same idempotency key is in flight.
    #[error("conflict")]
    Conflict,
    /// 409 `external_id_taken`.
    #[error("external id taken")]
    ExternalIdTaken,
    /// 413 `payload_too_large`.
    #[error("payload too large")]
    PayloadTooLarge,
    /// 415 `unsupported_media_type`.
    #[error("unsupported media type")]
    UnsupportedMediaType,
    /// 422 with one error object per problem.
    #[error("validation failed")]
    Validation(Problems),
    /// 422 `idempotency_key_reused`.
    #[error("idempotency key reused")]
    IdempotencyKeyReused,
    /// 503 `service_unavailable` with `Retry-After`.
    #[error("service unavailable")]
    Unavailable,
    /// 500 `internal_error`.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// An internal error from any source.
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> ApiError {
        ApiError::Internal(Box::new(e))
    }

    /// A single 422 problem.
    pub fn invalid(
        kind: crate::domain::validation::ProblemKind,
        pointer: &str,
        detail: impl Into<String>,
    ) -> ApiError {
        let mut p = Problems::default();
        p.push(kind, pointer, detail);
        ApiError::Validation(p)
    }

    /// A 400 for a query parameter.
    pub fn parameter(parameter: impl Into<String>, detail: impl Into<String>) -> ApiError {
        ApiError::InvalidParameter {
            parameter: parameter.into(),
            detail: detail.into(),
        }
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::InvalidJson
            | ApiError::InvalidParameter { .. }
            | ApiError::InvalidHeader { .. } => StatusCode::BAD_REQUEST,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_)
            | ApiError::ClientTokenRefused { .. }
            | ApiError::SandboxOnly => StatusCode::FORBIDDEN,
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::InvalidTransition { .. }
            | ApiError::SessionRedacted
            | ApiError::AccountRedacted
            | ApiError::DocumentInSession
            | ApiError::LimitExceeded { .. }
            | ApiError::Conflict
            | ApiError::ExternalIdTaken => StatusCode::CONFLICT,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Validation(_) | ApiError::IdempotencyKeyReused => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn objects(&self) -> Vec<Value> {
        let status = self.status().as_u16().to_string();
        let one = |code: &str, title: &str, detail: &str| json!({"status": status, "code": code, "title": title, "detail": detail});
        match self {
            ApiError::InvalidJson => vec![one(
                "invalid_json",
                "Invalid JSON",
                "The request body is not valid JSON.",
            )],
            ApiError::InvalidParameter { parameter, detail } => {
                let mut o = one("invalid_parameter", "Invalid parameter", detail);
                o["source"] = json!({"parameter": parameter});
                vec![o]
            }
            ApiError::InvalidHeader { header, detail } => {
                let mut o = one("invalid_parameter", "Invalid header", detail);
                o["source"] = json!({"header": header});
                vec![o]
            }
            ApiError::Unauthorized => vec![one(
                "unauthorized",
                "Unauthorized",
                "Send a valid, unexpired, unrevoked API key in the X-Api-Key header (or, on the applicant's side, a current client token as Authorization: Bearer).",
            )],
            ApiError::Forbidden(scope) => {
                let mut o = one(
                    "forbidden",
                    "Forbidden",
                    &format!("This API key lacks the `{scope}` scope."),
                );
                o["meta"] = json!({"required_scope": scope.as_str()});
                vec![o]
            }
            ApiError::ClientTokenRefused { scope, pointer } => {
                let detail = match pointer {
                    Some(_) => "A client token cannot change this attribute.",
                    None => "A client token cannot do this; it acts only on the applicant's steps of its own session.",
                };
                let mut o = one("forbidden", "Forbidden", detail);
                o["meta"] = json!({"required_scope": scope.as_str(), "credential": "api_key"});
                if let Some(pointer) = pointer {
                    o["source"] = json!({"pointer": pointer});
                }
                vec![o]
            }
            ApiError::SandboxOnly => vec![one(
                "sandbox_only",
                "Sandbox only",
                "This action is available to staging keys only.",
            )],
            ApiError::NotFound => vec![one("not_found", "Not found", "No such resource.")],
            ApiError::MethodNotAllowed => vec![one(
                "method_not_allowed",
                "Method not allowed",
                "This resource does not support this method.",
            )],
            ApiError::InvalidTransition {
                resource,
                status,
                action,
            } => {
                let mut o = one(
                    "invalid_transition",
                    "Invalid transition",
                    &format!("The {resource}'s status ({status}) does not allow the action {action}."),
                );
                o["meta"] = json!({"status": status, "action": action});
                vec![o]
            }
            ApiError::DocumentInSession => {
                let mut o = one(
                    "invalid_transition",
                    "Invalid transition",
                    "The document belongs to a session and is redacted with it: redact the session.",
                );
                o["meta"] = json!({"status": "in_session", "action": "redact"});
                vec![o]
            }
            ApiError::SessionRedacted => vec![one(
                "session_redacted",
                "Session redacted",
                "The session was redacted and can no longer change.",
            )],
            ApiError::AccountRedacted => vec![one(
                "account_redacted",
                "Account redacted",
                "The account was redacted; nothing new can be attached to it.",
            )],
            ApiError::LimitExceeded { limit, max } => {
                let mut o = one(
                    "limit_exceeded",
                    "Limit exceeded",
                    &format!("The cap {limit} ({max}) has been reached."),
                );
                o["meta"] = json!({"limit": limit, "max": max});
                vec![o]
            }
            ApiError::RateLimited { .. } => vec![one(
                "rate_limited",
                "Rate limited",
                "This API key sent too many requests. Retry after the delay in Retry-After.",
            )],
            ApiError::Conflict => vec![one(
                "conflict",
                "Conflict",
                "The resource was changed by a concurrent request, or a request with the same Idempotency-Key is still running. Retry.",
            )],
            ApiError::ExternalIdTaken => {
                let mut o = one(
                    "external_id_taken",
                    "External id taken",
                    "Another account already uses this external_id.",
                );
                o["source"] = json!({"pointer": "/data/attributes/external_id"});
                vec![o]
            }
            ApiError::PayloadTooLarge => vec![one(
                "payload_too_large",
                "Payload too large",
                "Request bodies are limited to 256 KiB.",
            )],
            ApiError::UnsupportedMediaType => vec![one(
                "unsupported_media_type",
                "Unsupported media type",
                "Send request bodies as application/json or application/vnd.api+json.",
            )],
            ApiError::Validation(problems) => problems
                .0
                .iter()
                .map(|p| {
                    let title = match p.kind.code() {
                        "missing_attribute" => "Missing attribute",
                        "unknown_attribute" => "Unknown attribute",
                        "invalid_relationship" => "Invalid relationship",
                        _ => "Invalid attribute",
                    };
                    json!({"status": status, "code": p.kind.code(), "title": title,
                           "detail": p.detail, "source": {"pointer": p.pointer}})
                })
                .collect(),
            ApiError::IdempotencyKeyReused => {
                let mut o = one(
                    "idempotency_key_reused",
                    "Idempotency key reused",
                    "This Idempotency-Key was used with a different request in the last 24 hours.",
                );
                o["source"] = json!({"header": "Idempotency-Key"});
                vec![o]
            }
            ApiError::Unavailable => vec![one(
                "service_unavailable",
                "Service unavailable",
                "The service is briefly overloaded or cannot reach its storage. Retry after the delay in Retry-After.",
            )],
            ApiError::Internal(_) => {
                let mut o = one(
                    "internal_error",
                    "Internal error",
                    "Something went wrong on our side. Quote the request id when reporting it.",
                );
                o["meta"] = json!({"request_id": current_request_id()});
                vec![o]
            }
        }
    }
}

/// Writes the source chain of an error on one line (for logs).
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut cur = e.source();
    while let Some(s) = cur {
        out.push_str(": ");
        out.push_str(&s.to_string());
        cur = s.source();
    }
    out
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(e) = &self {
            // SDK and store errors never carry applicant data: they name operations and
            // AWS error codes, not attribute values.
            tracing::error!(request_id = %current_request_id(), error = %chain(e.as_ref()), "internal error");
        }
        let status = self.status();
        let body = json!({"errors": self.objects()});
        let mut response = (status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let ApiError::RateLimited { retry_after } = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if matches!(
            e,
            StoreError::Throttled { .. } | StoreError::Unavailable { .. }
        ) {
            // Logged here: the 503 itself carries nothing but its code.
            tracing::warn!(request_id = %current_request_id(), error = %chain(&e), "dependency unavailable");
            return ApiError::Unavailable;
        }
        match e {
            StoreError::TransactionConflict => ApiError::Conflict,
            other => ApiError::internal(other),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::InvalidTransition { status, action } => ApiError::InvalidTransition {
                resource: "session",
                status: status.as_str().to_owned(),
                action: action.as_str().to_owned(),
            },
            DomainError::DocumentTransition { status, action } => ApiError::InvalidTransition {
                resource: "document",
                status: status.as_str().to_owned(),
                action: action.as_str().to_owned(),
            },
            DomainError::Closed { status, action } => ApiError::InvalidTransition {
                resource: "session",
                status: status.as_str().to_owned(),
                action: action.to_owned(),
            },
            DomainError::Redacted => ApiError::SessionRedacted,
            DomainError::LimitExceeded { limit, max } => ApiError::LimitExceeded { limit, max },
        }
    }
}

impl From<WorkflowError> for ApiError {
    fn from(e: WorkflowError) -> Self {
        match e {
            WorkflowError::NotFound => ApiError::NotFound,
            WorkflowError::Domain(d) => d.into(),
            WorkflowError::Conflict => ApiError::Conflict,
            WorkflowError::Invalid(p) => ApiError::Validation(p),
            // A document of a session is redacted with its session (README, Documents).
            WorkflowError::DocumentOfSession => ApiError::DocumentInSession,
            WorkflowError::AccountRedacted => ApiError::AccountRedacted,
            WorkflowError::AccountMissing => ApiError::invalid(
                crate::domain::validation::ProblemKind::Relationship,
                "/data/relationships/account/data/id",
                "no such account",
            ),
            WorkflowError::ExternalIdTaken => ApiError::ExternalIdTaken,
            WorkflowError::Store(s) => s.into(),
        }
    }
}

impl From<Problems> for ApiError {
    fn from(p: Problems) -> Self {
        ApiError::Validation(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_of_a_session_is_named_as_a_document() {
        let e = ApiError::from(WorkflowError::DocumentOfSession);
        assert_eq!(e.status(), StatusCode::CONFLICT);
        let o = &e.objects()[0];
        assert_eq!(o["code"], "invalid_transition");
        assert_eq!(
            o["meta"],
            json!({"status": "in_session", "action": "redact"})
        );
        let detail = o["detail"].as_str().unwrap_or_default();
        assert!(
            detail.contains("document") && detail.contains("session"),
            "{detail}"
        );
    }

    #[test]
    fn invalid_transitions_name_their_resource() {
        use crate::domain::document::{DocumentAction, DocumentStatus};
        use crate::domain::session::{Action, SessionStatus};
        let detail = |e: ApiError| {
            e.objects()[0]["detail"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        };
        let document = detail(ApiError::from(DomainError::DocumentTransition {
            status: DocumentStatus::Submitted,
            action: DocumentAction::Submit,
        }));
        assert!(
            document.starts_with("The document's status (submitted)"),
            "{document}"
        );
        let session = detail(ApiError::from(DomainError::InvalidTransition {
            status: SessionStatus::Approved,
            action: Action::Approve,
        }));
        assert!(
            session.starts_with("The session's status (approved)"),
            "{session}"
        );
    }

    #[test]
    fn redacted_accounts_and_sessions_have_their_own_codes() {
        assert_eq!(
            ApiError::AccountRedacted.objects()[0]["code"],
            "account_redacted"
        );
        assert_eq!(
            ApiError::SessionRedacted.objects()[0]["code"],
            "session_redacted"
        );
    }
}
