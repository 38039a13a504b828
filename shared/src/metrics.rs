//! Business metrics as CloudWatch embedded-metric-format (EMF) log lines: session
//! transitions and verification outcomes, counted where they are committed.
//!
//! One JSON line on stdout per metric; CloudWatch Logs extracts the metric from the
//! function's log group, so counting costs no request and no round trip. Dimensions are
//! the environment and the outcome, never the tenant (unbounded) or anything personal.
//! The namespace is `IDV_METRICS_NAMESPACE` (default `IdentityVerification`).

use serde_json::{json, Value};

use crate::domain::event::Event;
use crate::domain::values::{Environment, Timestamp};
use crate::domain::verification::Verification;

fn namespace() -> String {
    std::env::var("IDV_METRICS_NAMESPACE")
        .ok()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "IdentityVerification".to_owned())
}

/// The EMF document counting one `metric` with `dimensions`.
pub fn count_line(metric: &str, dimensions: &[(&str, &str)], at: Timestamp) -> Value {
    let names: Vec<&str> = dimensions.iter().map(|(k, _)| *k).collect();
    let mut doc = json!({
        "_aws": {
            "Timestamp": at.datetime().unix_timestamp_nanos() / 1_000_000,
            "CloudWatchMetrics": [{
                "Namespace": namespace(),
                "Dimensions": [names],
                "Metrics": [{"Name": metric, "Unit": "Count"}],
            }],
        },
        metric: 1,
    });
    for (k, v) in dimensions {
        doc[*k] = json!(v);
    }
    doc
}

/// Where lines go besides stdout: a test's collector (see [`observe`]).
type Sink = Box<dyn Fn(&Value) + Send + Sync>;
static SINK: std::sync::OnceLock<Sink> = std::sync::OnceLock::new();

/// Also hands every line to `sink` (once per process; tests use it to see what a deployed
/// function would log). Returns false if a sink was already set.
pub fn observe(sink: impl Fn(&Value) + Send + Sync + 'static) -> bool {
    SINK.set(Box::new(sink)).is_ok()
}

fn emit(doc: &Value) {
    // `println!` locks stdout for the whole line: lines of concurrent requests never mix.
    println!("{doc}");
    if let Some(sink) = SINK.get() {
        sink(doc);
    }
}

/// Counts the transitions among `events` (`session.created` and each `session.<status>`).
pub fn session_events(environment: Environment, events: &[Event]) {
    for e in events {
        let Some(to) = e.data.to.filter(|_| e.kind.starts_with("session.")) else {
            continue;
        };
        if e.kind != "session.created" && e.data.from == Some(to) {
            continue;
        }
        emit(&count_line(
            "SessionTransitions",
            &[("Environment", environment.as_str()), ("To", to.as_str())],
            e.occurred_at,
        ));
    }
}

/// Counts a verification's outcome by kind and status.
pub fn verification(environment: Environment, v: &Verification) {
    emit(&count_line(
        "VerificationOutcomes",
        &[
            ("Environment", environment.as_str()),
            ("Kind", v.kind.resource_type()),
            ("Status", v.status.as_str()),
        ],
        v.completed_at.unwrap_or(v.created_at),
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_the_embedded_metric_format() {
        let at = Timestamp::parse("2026-01-02T03:04:05.678Z").expect("ts");
        let doc = count_line(
            "SessionTransitions",
            &[("Environment", "staging"), ("To", "approved")],
            at,
        );
        let meta = &doc["_aws"];
        assert_eq!(meta["Timestamp"], 1_767_323_045_678_i64);
        let m = &meta["CloudWatchMetrics"][0];
        assert_eq!(m["Dimensions"], json!([["Environment", "To"]]));
        assert_eq!(
            m["Metrics"],
            json!([{"Name": "SessionTransitions", "Unit": "Count"}])
        );
        // Every dimension and the metric are members of the root, as EMF requires.
        assert_eq!(doc["Environment"], "staging");
        assert_eq!(doc["To"], "approved");
        assert_eq!(doc["SessionTransitions"], 1);
        assert!(!doc.to_string().contains('\n'), "one line");
    }
}
