//! Session devices: the applicant's browser or app, and the behaviour signals its SDK
//! measured. Registering one starts a `created` session and copies `behavior_analysis`
//! onto it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ids::{DeviceId, SessionId};
use super::validation::{ObjectReader, Problems};
use super::values::Timestamp;

/// A registered device. User agent, locale and IP address are personal data: redaction of
/// the session nulls them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Its id.
    pub id: DeviceId,
    /// The session it belongs to.
    pub session_id: SessionId,
    /// Browser or app user agent.
    pub user_agent: Option<String>,
    /// `ios`, `android`, `web`, … as the SDK reports it.
    pub platform: Option<String>,
    /// BCP 47 locale.
    pub locale: Option<String>,
    /// Client IP (from the request when the SDK does not send one).
    pub ip_address: Option<String>,
    /// SDK version.
    pub sdk_version: Option<String>,
    /// Behaviour signals, validated (see [`read_behavior_analysis`]).
    pub behavior_analysis: Option<Value>,
    /// Registration time.
    pub created_at: Timestamp,
    /// Redaction time.
    pub redacted_at: Option<Timestamp>,
}

impl Device {
    /// The device with its personal data removed.
    pub fn redacted(&self, now: Timestamp) -> Option<Device> {
        if self.redacted_at.is_some() {
            return None;
        }
        let mut next = self.clone();
        next.user_agent = None;
        next.locale = None;
        next.ip_address = None;
        next.behavior_analysis = None;
        next.redacted_at = Some(now);
        Some(next)
    }
}

/// The kinds of value a behaviour signal takes.
enum Signal {
    /// A count (non-negative integer).
    Count,
    /// A non-negative number (seconds, a baseline).
    Amount,
    /// A percentage, 0–100.
    Percent,
    /// A yes/no flag.
    Flag,
    /// `low`, `medium` or `high`.
    Threat,
}

/// Every signal of `behavior_analysis` and its kind.
const SIGNALS: [(&str, Signal); 16] = [
    ("completion_time_seconds", Signal::Amount),
    ("autofill_cancels", Signal::Count),
    ("autofill_starts", Signal::Count),
    ("bot_score", Signal::Percent),
    ("threat_level", Signal::Threat),
    ("shortcut_copies", Signal::Count),
    ("shortcut_pastes", Signal::Count),
    ("distraction_events", Signal::Count),
    ("devtools_open", Signal::Flag),
    ("debugger_attached", Signal::Flag),
    ("request_spoof_attempts", Signal::Count),
    ("user_agent_spoof_attempts", Signal::Count),
    ("hesitation_baseline", Signal::Amount),
    ("hesitation_count", Signal::Count),
    ("hesitation_percentage", Signal::Percent),
    ("hesitation_time", Signal::Amount),
];

/// Reads `behavior_analysis`: every known signal, each of its kind, unknown ones refused.
/// The result always has every signal as a key (null when not sent).
pub fn read_behavior_analysis(v: &Value, pointer: &str, p: &mut Problems) -> Option<Value> {
    let mut r = ObjectReader::new(v, pointer, p)?;
    let mut out = serde_json::Map::new();
    for (name, kind) in &SIGNALS {
        let ptr = r.pointer_of(name);
        let value = r.get(name).cloned();
        let ok = match (&value, kind) {
            (None, _) => true,
            (Some(Value::Number(n)), Signal::Count) => n.as_u64().is_some_and(|c| c <= 1_000_000),
            (Some(Value::Number(n)), Signal::Amount) => {
                n.as_f64().is_some_and(|x| (0.0..=1e9).contains(&x))
            }
            (Some(Value::Number(n)), Signal::Percent) => {
                n.as_f64().is_some_and(|x| (0.0..=100.0).contains(&x))
            }
            (Some(Value::Bool(_)), Signal::Flag) => true,
            (Some(Value::String(s)), Signal::Threat) => {
                ["low", "medium", "high"].contains(&s.as_str())
            }
            _ => false,
        };
        if !ok {
            let expected = match kind {
                Signal::Count => "a whole number from 0 to 1000000",
                Signal::Amount => "a non-negative number",
                Signal::Percent => "a number from 0 to 100",
                Signal::Flag => "true or false",
                Signal::Threat => "low, medium or high",
            };
            p.invalid(&ptr, format!("must be {expected}"));
        }
        out.insert((*name).to_owned(), value.unwrap_or(Value::Null));
    }
    r.finish(p);
    Some(Value::Object(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn signals_are_typed_and_complete() {
        let mut p = Problems::default();
        let v = read_behavior_analysis(
            &json!({"bot_score": 12.5, "threat_level": "low", "devtools_open": false, "autofill_starts": 3}),
            "/x",
            &mut p,
        )
        .expect("object");
        assert!(p.is_empty(), "{p:?}");
        assert_eq!(v["bot_score"], 12.5);
        assert_eq!(v["hesitation_time"], Value::Null, "absent signals are null");
        assert_eq!(v.as_object().map(|o| o.len()), Some(16));

        let mut p = Problems::default();
        read_behavior_analysis(
            &json!({"bot_score": 120, "threat_level": "severe", "autofill_starts": -1, "devtools_open": "no", "mood": 1}),
            "/x",
            &mut p,
        );
        let pointers: Vec<&str> = p.0.iter().map(|x| x.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/x/autofill_starts",
                "/x/bot_score",
                "/x/threat_level",
                "/x/devtools_open",
                "/x/mood"
            ]
        );
    }
}
