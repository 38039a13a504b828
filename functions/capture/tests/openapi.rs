//! The OpenAPI contract (`openapi.yaml`) against what is served.
//!
//! axum's `Router` cannot list its routes, so the routes are read from the routers' source:
//! every `.route("<path>", <method>(…).<method>(…))` call in `functions/*/src/lib.rs`. The
//! document's paths and methods must be exactly that set, both ways; and
//! `GET /v1/identity/openapi.json` must answer the YAML, as JSON, without credentials.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use axum::body::Body;
use http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn document() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("openapi.yaml")).expect("openapi.yaml");
    serde_yaml::from_str(&text).expect("openapi.yaml parses")
}

/// `(path, method)` of every `.route(…)` call in one router source file.
fn routes_in(source: &str) -> Vec<(String, String)> {
    handlers_in(source)
        .into_iter()
        .map(|(path, method, _)| (path, method))
        .collect()
}

/// `(path, method, handler expression)` of every `.route(…)` call in one router source file.
fn handlers_in(source: &str) -> Vec<(String, String, String)> {
    let mut found = Vec::new();
    for call in source.split(".route(").skip(1) {
        let call = call.trim_start();
        let Some(rest) = call.strip_prefix('"') else {
            panic!("a .route( whose path is not a string literal: {call:.80}");
        };
        let (path, rest) = rest.split_once('"').expect("closing quote");
        // The method router runs to the call's closing parenthesis: count them.
        let mut depth = 1usize;
        let mut end = rest.len();
        for (i, c) in rest.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 {
                        end = i;
                        break;
                    }
                }
                _ => {}
            }
        }
        let methods = &rest[..end];
        let mut any = false;
        // Method names at nesting depth zero, as `get(` or `.patch(`; handler paths like
        // `handlers::show` never match because a method must be followed by `(`.
        let mut depth = 0usize;
        let bytes = methods.as_bytes();
        for (i, c) in methods.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => depth = depth.saturating_sub(1),
                _ if depth == 0 => {
                    let boundary = i == 0
                        || !(bytes[i - 1].is_ascii_alphanumeric()
                            || bytes[i - 1] == b'_'
                            || bytes[i - 1] == b':');
                    if boundary {
                        for m in METHODS {
                            if methods[i..].starts_with(m)
                                && methods[i + m.len()..].starts_with('(')
                            {
                                let args = &methods[i + m.len() + 1..];
                                let handler = args[..closing(args)].trim().to_owned();
                                found.push((path.to_owned(), m.to_owned(), handler));
                                any = true;
                            }
                        }
                    }
                }
                _ => {}
            }
        }
        assert!(any, "no method found for route {path}: {methods:.120}");
    }
    found
}

/// The index of the `)` closing an argument list whose `(` is just before `s`.
fn closing(s: &str) -> usize {
    let mut depth = 1usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return i;
                }
            }
            _ => {}
        }
    }
    s.len()
}

fn router_routes() -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    let dir = root().join("functions");
    for entry in std::fs::read_dir(&dir).expect("functions/") {
        let lib = entry.expect("entry").path().join("src/lib.rs");
        if let Ok(source) = std::fs::read_to_string(&lib) {
            for route in routes_in(&source) {
                assert!(all.insert(route.clone()), "{route:?} routed twice");
            }
        }
    }
    all
}

fn document_routes(doc: &serde_json::Value) -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (key, _) in item.as_object().expect("path item") {
            if METHODS.contains(&key.as_str()) {
                all.insert((path.clone(), key.clone()));
            }
        }
    }
    all
}

#[test]
fn the_parser_reads_chained_and_single_methods() {
    let src = r#"Router::new()
        .route("/a", post(handlers::create).get(handlers::list))
        .route(
            "/a/{id}",
            get(handlers::show)
                .patch(handlers::update)
                .delete(handlers::delete),
        )
        .route("/b", get(move |req: Request| async move { serve(&X, get_csp(), &req) }))"#;
    let got: Vec<(String, String)> = routes_in(src);
    let want: Vec<(String, String)> = [
        ("/a", "post"),
        ("/a", "get"),
        ("/a/{id}", "get"),
        ("/a/{id}", "patch"),
        ("/a/{id}", "delete"),
        ("/b", "get"),
    ]
    .iter()
    .map(|(p, m)| ((*p).to_owned(), (*m).to_owned()))
    .collect();
    assert_eq!(got, want);
}

#[test]
fn the_document_and_the_routers_agree_both_ways() {
    let routed = router_routes();
    assert!(
        routed.len() > 40,
        "the parser found too few routes: {routed:?}"
    );
    let documented = document_routes(&document());
    let undocumented: Vec<_> = routed.difference(&documented).collect();
    let unrouted: Vec<_> = documented.difference(&routed).collect();
    assert!(
        undocumented.is_empty() && unrouted.is_empty(),
        "routed but not in openapi.yaml: {undocumented:?}\nin openapi.yaml but not routed: {unrouted:?}"
    );
}

/// Operations the document marks as accepting a client token carry both schemes; every
/// other operation that needs credentials carries the API key alone.
#[test]
fn security_is_declared_on_every_operation() {
    let doc = document();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let security = op["security"]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {path}: no security"));
            let public =
                path == "/v1/identity/openapi.json" || path.starts_with("/v1/identity/capture");
            assert_eq!(security.is_empty(), public, "{method} {path}");
            if !public {
                assert_eq!(
                    security[0],
                    serde_json::json!({"ApiKey": []}),
                    "{method} {path}"
                );
            }
        }
    }
}

#[tokio::test]
async fn the_document_is_served_as_json_without_credentials() {
    let origin =
        capture::UploadOrigin::parse("https://docs.s3.eu-west-1.amazonaws.com").expect("origin");
    for path in [
        "/v1/identity/openapi.json",
        "/prod/v1/identity/openapi.json",
    ] {
        let response = capture::router(&origin)
            .oneshot(Request::get(path).body(Body::empty()).expect("request"))
            .await
            .expect("infallible");
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let h = response.headers().clone();
        assert_eq!(h[header::CONTENT_TYPE], "application/json");
        assert_eq!(h[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        assert!(h.contains_key("x-request-id"));
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let served: serde_json::Value = serde_json::from_slice(&bytes).expect("JSON");
        assert_eq!(served, document(), "the served JSON is openapi.yaml");
        assert_eq!(served["openapi"], "3.1.0");
    }
    let response = capture::router(&origin)
        .oneshot(
            Request::post("/v1/identity/openapi.json")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible");
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// The routes whose handler lets a client token through (`Auth::require_allowing_client`
/// in its body), read from the handler modules the router names (`handlers::show` →
/// `src/handlers.rs`, `pub async fn show`).
fn client_token_routes() -> BTreeSet<(String, String)> {
    let mut all = BTreeSet::new();
    for entry in std::fs::read_dir(root().join("functions")).expect("functions/") {
        let src = entry.expect("entry").path().join("src");
        let Ok(lib) = std::fs::read_to_string(src.join("lib.rs")) else {
            continue;
        };
        for (path, method, handler) in handlers_in(&lib) {
            let plain = handler
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':');
            let Some((module, name)) = handler.split_once("::").filter(|_| plain) else {
                continue; // a closure (the capture page): no credentials at all
            };
            let file = src.join(format!("{module}.rs"));
            let text = std::fs::read_to_string(&file)
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let start = text
                .find(&format!("pub async fn {name}("))
                .unwrap_or_else(|| panic!("{handler} not found in {}", file.display()));
            let body = &text[start..];
            let body = &body[..body.find("\n}\n").unwrap_or(body.len())];
            if body.contains("require_allowing_client") {
                all.insert((path, method));
            }
        }
    }
    all
}

/// `ClientToken` is declared on exactly the operations whose handlers accept a client token.
#[test]
fn the_client_token_scheme_is_on_exactly_the_operations_that_accept_one() {
    let accepting = client_token_routes();
    assert!(accepting.len() >= 5, "too few found: {accepting:?}");
    let doc = document();
    let mut declared = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let schemes = op["security"].as_array().cloned().unwrap_or_default();
            if schemes.iter().any(|s| s.get("ClientToken").is_some()) {
                declared.insert((path.clone(), method.clone()));
            }
        }
    }
    assert_eq!(declared, accepting);
}

/// The document's `CountryCode` enum is exactly what the API accepts: every listed code
/// parses, and every two-letter code that parses is listed.
#[test]
fn country_codes_agree_with_the_reader() {
    let doc = document();
    let listed: BTreeSet<String> = doc["components"]["schemas"]["CountryCode"]["enum"]
        .as_array()
        .expect("CountryCode enum")
        .iter()
        .map(|c| c.as_str().expect("string").to_owned())
        .collect();
    let mut accepted = BTreeSet::new();
    for a in b'A'..=b'Z' {
        for b in b'A'..=b'Z' {
            let code = String::from_utf8(vec![a, b]).expect("ascii");
            if idv::domain::values::CountryCode::parse(&code).is_some() {
                accepted.insert(code);
            }
        }
    }
    assert_eq!(listed, accepted);
    assert_eq!(listed.len(), 249);
}
