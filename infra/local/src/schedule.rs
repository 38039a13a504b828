//! The local stand-in for the EventBridge schedule that runs the sweep on AWS.

use serde_json::{json, Value};

/// The rule the local schedule pretends to be.
pub const RULE_ARN: &str = "arn:aws:events:us-east-1:000000000000:rule/idv-expiry-sweep";

/// An EventBridge `Scheduled Event` as a schedule rule delivers it at `time` (RFC 3339).
pub fn scheduled_event(id: &str, time: &str) -> Value {
    json!({
        "version": "0",
        "id": id,
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "000000000000",
        "time": time,
        "region": "us-east-1",
        "resources": [RULE_ARN],
        "detail": {}
    })
}
