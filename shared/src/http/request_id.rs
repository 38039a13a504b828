//! The id of the request being served: the Lambda request id (or a fresh ULID outside
//! Lambda), held in a task-local for the request's lifetime. It goes into the logging span,
//! the `X-Request-Id` response header, `meta.request_id` of a 500, and the store's
//! `ClientRequestToken`s.
//!
//! It lives apart from [`super::middleware`] so that the error type can read it without
//! importing the layers (which import auth, which imports the error type).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use http::HeaderValue;
use lambda_http::RequestExt;
use tracing::Instrument;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served (empty outside a request).
pub fn current_request_id() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

/// The outermost layer: picks the id, runs the request inside its span and task-local, and
/// answers with `X-Request-Id`.
pub(super) async fn request_id_layer(req: Request, next: Next) -> Response {
    let id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| {
            crate::domain::ids::new_ulid(time::OffsetDateTime::now_utc()).to_string()
        });
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), route = tracing::field::Empty);
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(req).instrument(span))
        .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        response.headers_mut().insert("x-request-id", v);
    }
    response
}
