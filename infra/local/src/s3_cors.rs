//! `idv-local s3-cors`: the documents bucket's CORS rule in front of the local S3 server.
//!
//! ```text
//! idv-local s3-cors --port 8015 --upstream http://127.0.0.1:8014 [--origins '*' | 'http://a,http://b']
//! ```
//!
//! On AWS a browser PUTs a document straight to its presigned URL, which S3 allows because
//! of the bucket's CORS rule (`template.yaml`, `DocumentsBucket` → `CorsConfiguration`).
//! s3s-fs, the local S3 server, checks signatures but knows nothing of CORS (it neither
//! answers `OPTIONS` preflights nor sends `Access-Control-*` headers), so a web page could
//! not upload to it. This proxy sits in front of it and evaluates the same rule
//! ([`CorsRule::documents`]) the way S3 does:
//!
//! * a preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) is answered
//!   here: 200 with the `Access-Control-Allow-*` headers when the origin, the method and
//!   every requested header match the rule, else 403 with S3's `CORSResponse` error and no
//!   allow headers. An `OPTIONS` without `Origin` is S3's 400.
//! * every other request is forwarded unchanged — method, path and query, every header
//!   (`Host` included, so the signature made for the proxy's host:port still verifies),
//!   the body read whole first (see `Proxy::handle`) — and s3s-fs's answer comes back unchanged, plus, when the request
//!   has an `Origin` the rule allows for its method, `Access-Control-Allow-Origin`,
//!   `Access-Control-Expose-Headers` and `Vary`.
//!
//! The S3 semantics followed are those of the API reference's "OPTIONS object" and "Common
//! response headers" pages: `Access-Control-Allow-Origin` is `*` when the origin matched
//! the rule's `*` (and then `Access-Control-Allow-Credentials` is left out), else the
//! request's origin with `Access-Control-Allow-Credentials: true`; allowed origins and
//! headers may hold one `*` wildcard; header names match case-insensitively.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

/// The body of every answer: s3s-fs's streamed body, or one of ours.
pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

/// One CORS rule, as in a bucket's `CorsConfiguration`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorsRule {
    /// `AllowedOrigins`: exact origins, `*`, or origins with one `*` wildcard.
    pub allowed_origins: Vec<String>,
    /// `AllowedMethods` (upper case, matched exactly as S3 does).
    pub allowed_methods: Vec<String>,
    /// `AllowedHeaders` (matched case-insensitively; one `*` wildcard each).
    pub allowed_headers: Vec<String>,
    /// `ExposedHeaders`.
    pub exposed_headers: Vec<String>,
    /// `MaxAge`, in seconds.
    pub max_age_seconds: u32,
}

impl CorsRule {
    /// The documents bucket's rule (`template.yaml`, rule `presigned-uploads`) with
    /// `origins` as its `UploadOrigins` parameter (default `*`).
    pub fn documents(origins: Vec<String>) -> CorsRule {
        let strings = |list: &[&str]| list.iter().map(|s| (*s).to_owned()).collect();
        CorsRule {
            allowed_origins: origins,
            allowed_methods: strings(&["PUT", "GET"]),
            allowed_headers: strings(&[
                "content-length",
                "content-type",
                "if-none-match",
                "x-amz-checksum-sha256",
            ]),
            exposed_headers: strings(&["ETag"]),
            max_age_seconds: 3000,
        }
    }

    /// `--origins`: `*` or a comma-separated list, as the `UploadOrigins` parameter.
    pub fn parse_origins(text: &str) -> Result<Vec<String>, String> {
        let origins: Vec<String> = text
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_owned)
            .collect();
        if origins.is_empty() {
            return Err("--origins takes '*' or a comma-separated list of origins".into());
        }
        if let Some(bad) = origins.iter().find(|o| o.matches('*').count() > 1) {
            // S3 refuses such a rule (an origin holds at most one wildcard).
            return Err(format!("origin {bad:?} has more than one '*'"));
        }
        Ok(origins)
    }

    /// What `Access-Control-Allow-Origin` says for `origin`, if the rule allows it: `*`
    /// when it matched the rule's `*`, the origin itself otherwise.
    fn allow_origin(&self, origin: &str) -> Option<AllowOrigin> {
        if self.allowed_origins.iter().any(|o| o == "*") {
            return Some(AllowOrigin::Any);
        }
        self.allowed_origins
            .iter()
            .any(|pattern| wildcard_match(pattern, origin, false))
            .then(|| AllowOrigin::Exactly(origin.to_owned()))
    }

    fn allows_method(&self, method: &str) -> bool {
        self.allowed_methods.iter().any(|m| m == method)
    }

    fn allows_header(&self, header: &str) -> bool {
        self.allowed_headers
            .iter()
            .any(|pattern| wildcard_match(pattern, header, true))
    }

    /// Evaluates a preflight: what to answer when the origin, the method and every one of
    /// `request_headers` (`Access-Control-Request-Headers`, comma-separated) match, else
    /// the first thing that did not.
    pub fn preflight(
        &self,
        origin: &str,
        method: &str,
        request_headers: Option<&str>,
    ) -> Result<Preflight, Refusal> {
        let allow_origin = self.allow_origin(origin).ok_or(Refusal::Origin)?;
        if !self.allows_method(method) {
            return Err(Refusal::Method);
        }
        let headers: Vec<String> = request_headers
            .unwrap_or_default()
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        if let Some(h) = headers.iter().find(|h| !self.allows_header(h)) {
            return Err(Refusal::Header(h.clone()));
        }
        Ok(Preflight {
            allow_origin,
            method: method.to_owned(),
            headers,
        })
    }

    /// Evaluates an actual (non-preflight) request: what `Access-Control-Allow-Origin`
    /// says, or `None` when the rule does not cover this origin and method (then S3 adds
    /// no CORS headers and the browser withholds the answer from the page).
    pub fn actual(&self, origin: &str, method: &str) -> Option<AllowOrigin> {
        if !self.allows_method(method) {
            return None;
        }
        self.allow_origin(origin)
    }
}

/// The `Access-Control-Allow-Origin` of an allowed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowOrigin {
    /// `*`: the origin matched the rule's `*` (no credentials header).
    Any,
    /// The request's origin (with `Access-Control-Allow-Credentials: true`).
    Exactly(String),
}

/// Why a preflight was refused (S3 answers the same 403 whatever the reason; the proxy
/// logs it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The origin is not among the allowed ones.
    Origin,
    /// The requested method is not allowed (or none was named).
    Method,
    /// This requested header is not allowed.
    Header(String),
}

/// What an allowed preflight is answered with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    /// `Access-Control-Allow-Origin`.
    pub allow_origin: AllowOrigin,
    /// `Access-Control-Allow-Methods`: the requested method (S3 names the method of the
    /// request it evaluated).
    pub method: String,
    /// `Access-Control-Allow-Headers`: the requested headers, lower-cased.
    pub headers: Vec<String>,
}

/// Whether `value` matches `pattern`, which may hold one `*` standing for any run of
/// characters (S3 allows at most one per origin or header).
fn wildcard_match(pattern: &str, value: &str, ignore_case: bool) -> bool {
    let (pattern, value) = if ignore_case {
        (pattern.to_ascii_lowercase(), value.to_ascii_lowercase())
    } else {
        (pattern.to_owned(), value.to_owned())
    };
    match pattern.split_once('*') {
        None => pattern == value,
        Some((prefix, suffix)) => {
            value.len() >= prefix.len() + suffix.len()
                && value.starts_with(prefix)
                && value.ends_with(suffix)
        }
    }
}

/// The `Vary` S3 sends with every successful CORS evaluation.
const VARY: &str = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method";

/// The proxy: the rule and where s3s-fs listens.
#[derive(Debug, Clone)]
pub struct Proxy {
    rule: CorsRule,
    /// `host:port` of the upstream S3 server.
    upstream: String,
}

impl Proxy {
    /// A proxy applying `rule` in front of `upstream` (`http://host:port`; plain HTTP
    /// only, as local S3 servers speak).
    pub fn new(rule: CorsRule, upstream: &str) -> Result<Proxy, String> {
        let uri: hyper::Uri = upstream
            .parse()
            .map_err(|e| format!("--upstream {upstream:?}: {e}"))?;
        if uri.scheme_str() != Some("http") {
            return Err(format!("--upstream {upstream:?} must be an http:// URL"));
        }
        let authority = uri
            .authority()
            .ok_or_else(|| format!("--upstream {upstream:?} has no host"))?;
        let upstream = format!(
            "{}:{}",
            authority.host(),
            authority.port_u16().unwrap_or(80)
        );
        Ok(Proxy { rule, upstream })
    }

    /// The rule applied.
    pub fn rule(&self) -> &CorsRule {
        &self.rule
    }

    /// Answers one request: a preflight here, anything else through s3s-fs.
    pub async fn handle(&self, request: Request<Incoming>) -> Response<ProxyBody> {
        if request.method() == Method::OPTIONS {
            return self.preflight(request.headers());
        }
        let origin = header(request.headers(), "origin").map(str::to_owned);
        let method = request.method().as_str().to_owned();
        // The body is read whole before it is forwarded. Streamed, a write-once PUT that
        // s3s-fs refuses on its headers alone (412: the object exists) raced its body: the
        // server answered and closed while the body was still being copied, and the copy's
        // write error hid the answer (a 502 instead of the 412 S3 gives; seen in CI). Whole,
        // the body is on the socket at once, and a connection that still fails before any
        // answer is tried once more (S3 stores nothing from a request it did not read).
        let (parts, body) = request.into_parts();
        let body = match body.collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) => {
                return s3_error(
                    StatusCode::BAD_REQUEST,
                    "IncompleteBody",
                    &format!("the request body could not be read: {e}"),
                    None,
                )
            }
        };
        let request = |parts: &hyper::http::request::Parts| {
            let mut r = Request::new(Full::new(body.clone()));
            *r.method_mut() = parts.method.clone();
            *r.uri_mut() = parts.uri.clone();
            *r.version_mut() = parts.version;
            *r.headers_mut() = parts.headers.clone();
            r
        };
        let forwarded = match self.forward(request(&parts)).await {
            Err(e) => {
                tracing::debug!(error = %e, "forwarding to S3 failed once; trying again");
                self.forward(request(&parts)).await
            }
            ok => ok,
        };
        let mut response = match forwarded {
            Ok(response) => response.map(BodyExt::boxed),
            Err(e) => {
                tracing::warn!(error = %e, upstream = %self.upstream, "forwarding to S3 failed");
                return s3_error(
                    StatusCode::BAD_GATEWAY,
                    "BadGateway",
                    &format!("idv-local s3-cors could not reach {}: {e}", self.upstream),
                    None,
                );
            }
        };
        if let Some(allow) = origin.and_then(|o| self.rule.actual(&o, &method)) {
            let headers = response.headers_mut();
            set_allow_origin(headers, &allow);
            set(headers, "access-control-allow-methods", &method);
            set(
                headers,
                "access-control-expose-headers",
                &self.rule.exposed_headers.join(", "),
            );
            set(
                headers,
                "access-control-max-age",
                &self.rule.max_age_seconds.to_string(),
            );
            headers.append(hyper::header::VARY, HeaderValue::from_static(VARY));
        }
        response
    }

    /// S3's answer to an `OPTIONS` request (it never reaches the bucket's objects).
    fn preflight(&self, headers: &HeaderMap) -> Response<ProxyBody> {
        let Some(origin) = header(headers, "origin") else {
            return s3_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Insufficient information. Origin request header needed.",
                None,
            );
        };
        let method = header(headers, "access-control-request-method").unwrap_or_default();
        let requested = header(headers, "access-control-request-headers");
        let allowed = match self.rule.preflight(origin, method, requested) {
            Ok(allowed) => allowed,
            Err(refusal) => {
                tracing::info!(?refusal, origin, method, "refused a CORS preflight");
                // S3's own wording, its "evalution" included, so pages and tests that look
                // for it locally see what AWS sends.
                return s3_error(
                    StatusCode::FORBIDDEN,
                    "AccessForbidden",
                    "CORSResponse: This CORS request is not allowed. This is usually because the \
                 evalution of Origin, request method / Access-Control-Request-Method or \
                 Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
                    Some(method),
                );
            }
        };
        let mut response = Response::new(empty());
        let out = response.headers_mut();
        set_allow_origin(out, &allowed.allow_origin);
        set(out, "access-control-allow-methods", &allowed.method);
        if !allowed.headers.is_empty() {
            set(
                out,
                "access-control-allow-headers",
                &allowed.headers.join(", "),
            );
        }
        set(
            out,
            "access-control-expose-headers",
            &self.rule.exposed_headers.join(", "),
        );
        set(
            out,
            "access-control-max-age",
            &self.rule.max_age_seconds.to_string(),
        );
        set(out, "vary", VARY);
        set(out, "content-length", "0");
        response
    }

    /// Sends `request` as it came (same method, target, headers and streamed body) on a
    /// fresh connection to s3s-fs and returns its answer, whose body streams back too.
    async fn forward(&self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, String> {
        let stream = tokio::net::TcpStream::connect(&self.upstream)
            .await
            .map_err(|e| e.to_string())?;
        // Small responses (a 200 to a PUT) should not wait on Nagle.
        let _ = stream.set_nodelay(true);
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        // The connection task drives both bodies; it ends when the response body is read.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "upstream connection ended with an error");
            }
        });
        sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())
    }
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Sets a header whose value came from the rule or the request (a value that is not a
/// valid header is left out rather than panicking).
fn set(headers: &mut HeaderMap, name: &'static str, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(HeaderName::from_static(name), value);
    }
}

fn set_allow_origin(headers: &mut HeaderMap, allow: &AllowOrigin) {
    match allow {
        AllowOrigin::Any => set(headers, "access-control-allow-origin", "*"),
        AllowOrigin::Exactly(origin) => {
            set(headers, "access-control-allow-origin", origin);
            set(headers, "access-control-allow-credentials", "true");
        }
    }
}

fn empty() -> ProxyBody {
    Full::new(Bytes::new())
        .map_err(|never: Infallible| match never {})
        .boxed()
}

/// Escapes text for an XML element.
fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An error in S3's XML shape.
fn s3_error(
    status: StatusCode,
    code: &str,
    message: &str,
    method: Option<&str>,
) -> Response<ProxyBody> {
    let method = method.map_or(String::new(), |m| {
        format!(
            "<Method>{}</Method><ResourceType>OBJECT</ResourceType>",
            xml_text(m)
        )
    });
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{code}</Code><Message>{}</Message>{method}</Error>",
        xml_text(message)
    );
    let mut response = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *response.status_mut() = status;
    set(response.headers_mut(), "content-type", "application/xml");
    response
}

/// Serves `proxy` on `listener` until the process stops.
pub async fn serve(listener: tokio::net::TcpListener, proxy: Proxy) -> std::io::Result<()> {
    let proxy = Arc::new(proxy);
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let proxy = proxy.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let proxy = proxy.clone();
                async move { Ok::<_, Infallible>(proxy.handle(request).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "client connection ended with an error");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(origins: &[&str]) -> CorsRule {
        CorsRule::documents(origins.iter().map(|o| (*o).to_owned()).collect())
    }

    #[test]
    fn the_documents_rule_allows_exactly_the_signed_headers() {
        let r = rule(&["*"]);
        let ok = r
            .preflight(
                "http://localhost:3000",
                "PUT",
                Some("Content-Type, If-None-Match,x-amz-checksum-sha256 , content-length"),
            )
            .expect("allowed");
        assert_eq!(ok.allow_origin, AllowOrigin::Any);
        assert_eq!(
            ok.headers,
            [
                "content-type",
                "if-none-match",
                "x-amz-checksum-sha256",
                "content-length"
            ]
        );
        assert!(r.preflight("http://a", "GET", None).is_ok());
        assert_eq!(
            r.preflight("http://a", "DELETE", None),
            Err(Refusal::Method)
        );
        assert!(r.preflight("http://a", "HEAD", None).is_err());
        assert!(r.preflight("http://a", "put", None).is_err());
        assert!(r.preflight("http://a", "", None).is_err());
        assert!(r
            .preflight("http://a", "PUT", Some("content-type, X-Amz-Meta-Name"))
            .is_err_and(|r| r == Refusal::Header("x-amz-meta-name".into())));
        assert_eq!(r.actual("http://a", "PUT"), Some(AllowOrigin::Any));
        assert_eq!(r.actual("http://a", "DELETE"), None);
    }

    #[test]
    fn listed_origins_are_echoed_and_wildcards_match_one_run() {
        let r = rule(&["http://app.test", "https://*.example.com"]);
        assert_eq!(
            r.actual("http://app.test", "PUT"),
            Some(AllowOrigin::Exactly("http://app.test".into()))
        );
        assert!(r.actual("https://a.b.example.com", "GET").is_some());
        assert!(r.actual("https://example.com", "GET").is_none());
        assert!(r.actual("http://app.test.evil", "PUT").is_none());
        assert!(r.actual("HTTP://APP.TEST", "PUT").is_none());
        assert_eq!(
            r.preflight("http://other.test", "PUT", None),
            Err(Refusal::Origin)
        );
        assert!(wildcard_match("x-amz-*", "X-Amz-Meta-A", true));
        assert!(!wildcard_match("ab*ba", "aba", false));
    }

    #[test]
    fn origins_parse_like_the_template_parameter() {
        assert_eq!(CorsRule::parse_origins("*"), Ok(vec!["*".to_owned()]));
        assert_eq!(
            CorsRule::parse_origins("http://a, http://b,"),
            Ok(vec!["http://a".to_owned(), "http://b".to_owned()])
        );
        assert!(CorsRule::parse_origins(" , ").is_err());
        assert!(CorsRule::parse_origins("http://*.*.test").is_err());
    }

    #[test]
    fn upstreams_are_plain_http_host_ports() {
        assert!(Proxy::new(rule(&["*"]), "http://127.0.0.1:8014").is_ok());
        assert_eq!(
            Proxy::new(rule(&["*"]), "http://localhost")
                .map(|p| p.upstream)
                .as_deref(),
            Ok("localhost:80")
        );
        assert!(Proxy::new(rule(&["*"]), "https://127.0.0.1:8014").is_err());
        assert!(Proxy::new(rule(&["*"]), "not a url").is_err());
    }
}
