//! Converts the repository's `openapi.yaml` to the JSON served at
//! `/v1/identity/openapi.json`, once, at build time: the binary embeds the JSON text and
//! carries no YAML parser, the document costs nothing at cold start, and a document that
//! does not parse fails the build instead of a request.

use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let source = manifest.join("../../openapi.yaml");
    println!("cargo:rerun-if-changed={}", source.display());
    let text = std::fs::read_to_string(&source)
        .unwrap_or_else(|e| panic!("reading {}: {e}", source.display()));
    let doc: serde_json::Value = serde_yaml::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", source.display()));
    let json = serde_json::to_string(&doc).expect("a YAML value serialises as JSON");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("openapi.json");
    std::fs::write(&out, json).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}
