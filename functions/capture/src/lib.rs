//! `/v1/identity/capture`: the applicant's hosted page (API.md §9), one static page and its
//! script and style, embedded at compile time from `assets/`; and `/v1/identity/openapi.json`,
//! the API's OpenAPI contract (the repository's `openapi.yaml`, converted to JSON by
//! `build.rs`), public like the page.
//!
//! Nothing here reads a credential or the table: the page takes its client token from the
//! URL fragment, which browsers never send, and talks to the API and to S3 itself. What
//! this function adds is the headers that make the page safe to open from a link: a strict
//! Content-Security-Policy (only this origin's script and style, connections only to the
//! API and the bucket the upload URLs name, no framing, no forms posting anywhere), no
//! referrer, no MIME sniffing, and a validator so a phone on a slow network fetches each
//! asset once.

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use http::{header, HeaderValue, StatusCode};
use sha2::{Digest, Sha256};

/// An embedded file and how it is served.
struct Asset {
    body: &'static str,
    content_type: &'static str,
    /// The HTML is never cached (it is the page a link opens; a new deployment must show
    /// at once); script and style are revalidated with their ETag.
    cache_control: &'static str,
}

const INDEX: Asset = Asset {
    body: include_str!("../assets/index.html"),
    content_type: "text/html; charset=utf-8",
    cache_control: "no-store",
};
const SCRIPT: Asset = Asset {
    body: include_str!("../assets/app.js"),
    content_type: "text/javascript; charset=utf-8",
    cache_control: "no-cache",
};
const STYLE: Asset = Asset {
    body: include_str!("../assets/app.css"),
    content_type: "text/css; charset=utf-8",
    cache_control: "no-cache",
};

/// The OpenAPI document, JSON converted from `openapi.yaml` at build time. Any origin may
/// read it (it is public and carries no credential), so API tools in a browser can load it.
pub const OPENAPI_JSON: &str = include_str!(concat!(env!("OUT_DIR"), "/openapi.json"));

const OPENAPI: Asset = Asset {
    body: OPENAPI_JSON,
    content_type: "application/json",
    cache_control: "no-cache",
};

/// Why the page's configuration is unusable.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
#[error("IDV_UPLOAD_ORIGIN must be an origin like https://bucket.s3.eu-west-1.amazonaws.com")]
pub struct OriginError;

/// The origin presigned upload URLs point at: the page's CSP lets it connect there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadOrigin(String);

impl UploadOrigin {
    /// Parses `scheme://host[:port]` (http or https, nothing after the authority, no
    /// character that could end a CSP directive).
    pub fn parse(s: &str) -> Result<UploadOrigin, OriginError> {
        let s = s.trim().trim_end_matches('/');
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"))
            .ok_or(OriginError)?;
        let ok = !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
        if ok {
            Ok(UploadOrigin(s.to_owned()))
        } else {
            Err(OriginError)
        }
    }

    /// From the environment: `IDV_UPLOAD_ORIGIN`; else the origin of `AWS_ENDPOINT_URL_S3`
    /// (the local stack, path-style URLs); else the bucket's virtual-hosted endpoint, the
    /// form the SDK presigns on AWS.
    pub fn from_env() -> Result<UploadOrigin, OriginError> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        if let Some(o) = var("IDV_UPLOAD_ORIGIN") {
            return UploadOrigin::parse(&o);
        }
        if let Some(endpoint) = var("AWS_ENDPOINT_URL_S3") {
            let origin: String = match endpoint.split_once("://") {
                Some((scheme, rest)) => {
                    format!("{scheme}://{}", rest.split('/').next().unwrap_or_default())
                }
                None => endpoint,
            };
            return UploadOrigin::parse(&origin);
        }
        let bucket = var("IDV_BUCKET").ok_or(OriginError)?;
        let region = var("AWS_REGION").ok_or(OriginError)?;
        UploadOrigin::parse(&format!("https://{bucket}.s3.{region}.amazonaws.com"))
    }
}

/// The page's Content-Security-Policy.
pub fn content_security_policy(upload: &UploadOrigin) -> String {
    format!(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; \
         media-src 'self' blob:; connect-src 'self' {}; form-action 'none'; \
         frame-ancestors 'none'; base-uri 'none'",
        upload.0
    )
}

fn etag(body: &str) -> String {
    let digest = Sha256::digest(body.as_bytes());
    format!("\"{}\"", hex::encode(&digest[..16]))
}

fn serve(asset: &Asset, csp: &str, req: &Request) -> Response {
    let tag = etag(asset.body);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, asset.body).into_response()
    };
    let h = response.headers_mut();
    let mut set = |name: header::HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set(header::CONTENT_TYPE, asset.content_type);
    set(header::CACHE_CONTROL, asset.cache_control);
    set(header::ETAG, &tag);
    set(header::CONTENT_SECURITY_POLICY, csp);
    set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(header::REFERRER_POLICY, "no-referrer");
    set(header::X_FRAME_OPTIONS, "DENY");
    set(
        header::HeaderName::from_static("permissions-policy"),
        "camera=(self), microphone=(), geolocation=(), payment=()",
    );
    set(
        header::HeaderName::from_static("cross-origin-opener-policy"),
        "same-origin",
    );
    set(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    response
}

/// The page's routes and the OpenAPI document, with the request-id and base-path layers
/// (no auth: the page and the contract are public, the data is not).
pub fn router(upload: &UploadOrigin) -> Router {
    let csp: &'static str = Box::leak(content_security_policy(upload).into_boxed_str());
    let routes = Router::new()
        .route(
            "/v1/identity/capture",
            get(move |req: Request| async move { serve(&INDEX, csp, &req) }),
        )
        .route(
            "/v1/identity/capture/app.js",
            get(move |req: Request| async move { serve(&SCRIPT, csp, &req) }),
        )
        .route(
            "/v1/identity/capture/app.css",
            get(move |req: Request| async move { serve(&STYLE, csp, &req) }),
        )
        .route(
            "/v1/identity/openapi.json",
            get(move |req: Request| async move {
                let mut r = serve(&OPENAPI, csp, &req);
                r.headers_mut().insert(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                );
                r.headers_mut().insert(
                    header::HeaderName::from_static("cross-origin-resource-policy"),
                    HeaderValue::from_static("cross-origin"),
                );
                r
            }),
        );
    idv::http::middleware::public_app(routes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    fn origin() -> UploadOrigin {
        UploadOrigin::parse("https://docs.s3.eu-west-1.amazonaws.com").expect("origin")
    }

    async fn get(path: &str, etag: Option<&str>) -> (StatusCode, http::HeaderMap, String) {
        let mut b = Request::builder().uri(path);
        if let Some(t) = etag {
            b = b.header(header::IF_NONE_MATCH, t);
        }
        let r = router(&origin())
            .oneshot(b.body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        let (parts, body) = r.into_parts();
        let bytes = body.collect().await.expect("body").to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&bytes).into_owned(),
        )
    }

    #[tokio::test]
    async fn the_page_and_its_assets_carry_the_strict_policy() {
        for (path, kind) in [
            ("/v1/identity/capture", "text/html"),
            ("/prod/v1/identity/capture/app.js", "text/javascript"),
            ("/v1/identity/capture/app.css", "text/css"),
        ] {
            let (status, h, body) = get(path, None).await;
            assert_eq!(status, StatusCode::OK, "{path}");
            assert!(!body.is_empty());
            assert!(h[header::CONTENT_TYPE]
                .to_str()
                .expect("ascii")
                .starts_with(kind));
            let csp = h[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
            assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self';"));
            assert!(csp.contains("connect-src 'self' https://docs.s3.eu-west-1.amazonaws.com;"));
            assert!(!csp.contains("unsafe"), "{csp}");
            assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert!(h.contains_key("x-request-id"));
        }
        let (status, _, _) = get("/v1/identity/capture/secrets.txt", None).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
    }

    /// No inline script or style anywhere, and no third-party origin: the policy would
    /// block them, and the page must work under it.
    #[test]
    fn the_assets_need_nothing_the_policy_forbids() {
        // Markup only: comments may describe what is not there.
        let mut html = String::new();
        for (i, part) in INDEX.body.split("<!--").enumerate() {
            html.push_str(if i == 0 {
                part
            } else {
                part.split_once("-->").map_or("", |(_, after)| after)
            });
        }
        assert!(!html.contains(" style=\""), "inline style");
        assert!(!html.contains("<style"), "inline style element");
        for part in html.split("<script").skip(1) {
            let tag = part.split('>').next().unwrap_or_default();
            assert!(tag.contains("src="), "inline script: <script{tag}>");
        }
        for asset in [INDEX.body, SCRIPT.body, STYLE.body] {
            for scheme in ["http://", "https://"] {
                for found in asset.match_indices(scheme) {
                    let url: String = asset[found.0..].chars().take(60).collect();
                    assert!(
                        url.starts_with("http://www.w3.org/"),
                        "a third-party URL: {url}"
                    );
                }
            }
        }
        assert!(INDEX.body.len() + SCRIPT.body.len() + STYLE.body.len() < 100 * 1024);
    }

    #[tokio::test]
    async fn a_known_asset_is_not_sent_twice() {
        let (_, h, _) = get("/v1/identity/capture/app.js", None).await;
        let tag = h[header::ETAG].to_str().expect("ascii").to_owned();
        let (status, _, body) = get("/v1/identity/capture/app.js", Some(&tag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED);
        assert!(body.is_empty());
    }

    #[test]
    fn origins_cannot_smuggle_directives() {
        for bad in [
            "ftp://x",
            "https://",
            "https://a.com; script-src *",
            "https://a.com/path",
            "https://a.com 'unsafe-inline'",
            "docs.s3.amazonaws.com",
        ] {
            assert_eq!(UploadOrigin::parse(bad), Err(OriginError), "{bad}");
        }
        assert!(UploadOrigin::parse("http://127.0.0.1:8015/").is_ok());
    }
}
