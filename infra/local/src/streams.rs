//! The local stand-in for Lambda's DynamoDB stream event source mapping.
//!
//! On AWS the mapping reads the table's stream shard by shard, drops the records its filter
//! does not match, and invokes `expiry-stream` with batches of the rest, retrying a batch
//! from the first record the function reports failed. DynamoDB Local has streams but
//! nothing that reads them, so [`StreamRelay`] does the same with `aws-sdk-dynamodbstreams`
//! (DescribeStream, GetShardIterator, GetRecords; a shard's children are read once it is
//! finished, like the mapping does).
//!
//! Records are handed over exactly as the mapping delivers them, with one translation:
//! DynamoDB Local writes a TTL deletion with `eventName` `UNKNOWN_TO_SDK_VERSION` (that
//! literal, on the wire; the SDK keeps it as an unknown `OperationType`) and no
//! `userIdentity`, and omits `eventSourceARN`. AWS writes `REMOVE` with `userIdentity`
//! `{"type": "Service", "principalId": "dynamodb.amazonaws.com"}`. A manual DeleteItem is
//! `REMOVE` without `userIdentity` on both, so the event name alone tells them apart
//! locally. The filter is [`TTL_TIMER_FILTER`], the very pattern `template.yaml` gives the
//! event source (a test compares them).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::future::Future;

use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, Record, ShardIteratorType};
use aws_sdk_dynamodbstreams::Client;
use base64::Engine;
use serde_json::{json, Map, Value};

/// The event source mapping's filter (FilterCriteria) in `template.yaml`: TTL deletions of
/// timer items.
pub const TTL_TIMER_FILTER: &str = r#"{"eventName": ["REMOVE"], "userIdentity": {"type": ["Service"], "principalId": ["dynamodb.amazonaws.com"]}, "dynamodb": {"OldImage": {"entity": {"S": ["timer"]}}}}"#;

/// The filter of `webhook-fanout`'s event source mapping in `template.yaml`: new items of
/// the events feed.
pub const FEED_INSERT_FILTER: &str =
    r#"{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"entity": {"S": ["feed_event"]}}}}"#;

/// The event name DynamoDB Local gives TTL deletions.
pub const LOCAL_TTL_EVENT_NAME: &str = "UNKNOWN_TO_SDK_VERSION";

/// Records per invocation (the template's `BatchSize`).
pub const BATCH_SIZE: usize = 100;

/// Retries of a failing record before it is dropped (the template's
/// `MaximumRetryAttempts`; on AWS it would then go to the on-failure queue).
pub const MAX_RETRIES: u32 = 5;

/// Why reading the stream failed.
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    /// The table has no stream enabled.
    #[error("the table has no stream")]
    NoStream,
    /// A DynamoDB or DynamoDB Streams call failed.
    #[error("{context} failed")]
    Sdk {
        /// What we were doing.
        context: &'static str,
        /// The SDK error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
}

fn sdk<E: std::error::Error + Send + Sync + 'static>(
    context: &'static str,
) -> impl Fn(E) -> RelayError {
    move |e| RelayError::Sdk {
        context,
        source: Box::new(e),
    }
}

/// The ARN of a table's current stream (DescribeTable).
pub async fn latest_stream_arn(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<String, RelayError> {
    let out = dynamodb
        .describe_table()
        .table_name(table)
        .send()
        .await
        .map_err(sdk("describing the table"))?;
    out.table()
        .and_then(|t| t.latest_stream_arn())
        .map(str::to_owned)
        .ok_or(RelayError::NoStream)
}

/// Where reading starts on the shards that exist when the relay connects. Shards that
/// appear later are always read from their start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    /// Only records written from now on (the template's `StartingPosition: LATEST`).
    Latest,
    /// Everything the stream still holds.
    TrimHorizon,
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Polled {
    /// Records read from the stream.
    pub read: usize,
    /// Of those, records the filter kept.
    pub matched: usize,
    /// Records delivered and acknowledged.
    pub delivered: usize,
    /// Records the function reported failed (kept for the next poll).
    pub failed: usize,
    /// Records dropped after [`MAX_RETRIES`] failed deliveries.
    pub discarded: usize,
}

#[derive(Debug, Default)]
struct Shard {
    parent: Option<String>,
    iterator: Option<String>,
    /// The last record read, to resume after an iterator expired.
    last_sequence: Option<String>,
    /// Matched records not yet acknowledged, oldest first.
    pending: VecDeque<Value>,
    /// Failed deliveries of the first pending record.
    attempts: u32,
    /// GetRecords said the shard is closed and read to its end.
    exhausted: bool,
    /// Where to start if there is no iterator yet.
    start: Option<ShardIteratorType>,
}

/// Reads a table's stream and delivers the records the filter keeps, translated to the AWS
/// shape, to a function.
pub struct StreamRelay {
    client: Client,
    stream_arn: String,
    filter: Value,
    shards: BTreeMap<String, Shard>,
}

impl StreamRelay {
    /// Connects to `stream_arn`, positioning every current shard at `start`. Records
    /// written after this returns are delivered by later polls.
    pub async fn connect(
        client: Client,
        stream_arn: String,
        start: StartingPosition,
    ) -> Result<StreamRelay, RelayError> {
        let filter = serde_json::from_str(TTL_TIMER_FILTER).unwrap_or(Value::Null);
        let mut relay = StreamRelay {
            client,
            stream_arn,
            filter,
            shards: BTreeMap::new(),
        };
        let initial = match start {
            StartingPosition::Latest => ShardIteratorType::Latest,
            StartingPosition::TrimHorizon => ShardIteratorType::TrimHorizon,
        };
        relay.discover(initial).await?;
        // Take the iterators now: LATEST means "from the moment we connected".
        let ids: Vec<String> = relay.shards.keys().cloned().collect();
        for id in ids {
            relay.ensure_iterator(&id).await?;
        }
        Ok(relay)
    }

    /// The same relay with another filter pattern; `{}` keeps every record (tests use it to
    /// show the function itself ignores what the filter would have dropped).
    pub fn with_filter(mut self, pattern: Value) -> StreamRelay {
        self.filter = pattern;
        self
    }

    /// The stream's ARN (the records' `eventSourceARN`).
    pub fn stream_arn(&self) -> &str {
        &self.stream_arn
    }

    /// Lists the stream's shards and adds the new ones.
    async fn discover(&mut self, start: ShardIteratorType) -> Result<(), RelayError> {
        let mut after: Option<String> = None;
        loop {
            let out = self
                .client
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(after.take())
                .send()
                .await
                .map_err(sdk("describing the stream"))?;
            let Some(description) = out.stream_description() else {
                return Ok(());
            };
            for shard in description.shards() {
                let Some(id) = shard.shard_id() else { continue };
                self.shards.entry(id.to_owned()).or_insert_with(|| Shard {
                    parent: shard.parent_shard_id().map(str::to_owned),
                    start: Some(start.clone()),
                    ..Shard::default()
                });
            }
            match description.last_evaluated_shard_id() {
                Some(last) => after = Some(last.to_owned()),
                None => return Ok(()),
            }
        }
    }

    async fn ensure_iterator(&mut self, id: &str) -> Result<(), RelayError> {
        let Some(shard) = self.shards.get(id) else {
            return Ok(());
        };
        if shard.iterator.is_some() || shard.exhausted {
            return Ok(());
        }
        let mut req = self
            .client
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(id);
        req = match (&shard.last_sequence, &shard.start) {
            (Some(seq), _) => req
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .sequence_number(seq),
            (None, Some(start)) => req.shard_iterator_type(start.clone()),
            (None, None) => req.shard_iterator_type(ShardIteratorType::TrimHorizon),
        };
        let out = req.send().await.map_err(sdk("getting a shard iterator"))?;
        if let Some(shard) = self.shards.get_mut(id) {
            shard.iterator = out.shard_iterator().map(str::to_owned);
            if shard.iterator.is_none() {
                shard.exhausted = true;
            }
        }
        Ok(())
    }

    /// Reads every readable shard once and delivers its matched records in batches of at
    /// most [`BATCH_SIZE`]. `deliver` gets the event (`{"Records": [...]}`) and returns the
    /// `itemIdentifier`s (sequence numbers) the function reported failed: delivery of that
    /// shard resumes from the earliest of them on the next poll, as on AWS.
    pub async fn poll_once<F, Fut>(&mut self, mut deliver: F) -> Result<Polled, RelayError>
    where
        F: FnMut(Value) -> Fut,
        Fut: Future<Output = Result<Vec<String>, String>>,
    {
        // Shards that appear from now on are children of finished ones: read them whole.
        self.discover(ShardIteratorType::TrimHorizon).await?;
        let mut polled = Polled::default();
        let ids: Vec<String> = self.shards.keys().cloned().collect();
        for id in ids {
            // A child waits until its parent is read to the end, so order is kept.
            let parent_busy = self.shards[&id].parent.as_ref().is_some_and(|p| {
                self.shards
                    .get(p)
                    .is_some_and(|p| !p.exhausted || !p.pending.is_empty())
            });
            if parent_busy {
                continue;
            }
            self.read_shard(&id, &mut polled).await?;
            self.deliver_shard(&id, &mut deliver, &mut polled).await;
        }
        Ok(polled)
    }

    async fn read_shard(&mut self, id: &str, polled: &mut Polled) -> Result<(), RelayError> {
        self.ensure_iterator(id).await?;
        let Some(iterator) = self.shards.get(id).and_then(|s| s.iterator.clone()) else {
            return Ok(());
        };
        let out = match self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(1000)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) => {
                // An expired iterator is renewed after the last record read next time.
                if let Some(shard) = self.shards.get_mut(id) {
                    shard.iterator = None;
                }
                return Err(sdk("reading stream records")(e));
            }
        };
        let Some(shard) = self.shards.get_mut(id) else {
            return Ok(());
        };
        for record in out.records() {
            polled.read += 1;
            if let Some(seq) = record.dynamodb().and_then(|d| d.sequence_number()) {
                shard.last_sequence = Some(seq.to_owned());
            }
            let event = lambda_record(record, &self.stream_arn);
            if matches(&self.filter, &event) {
                polled.matched += 1;
                shard.pending.push_back(event);
            }
        }
        shard.iterator = out.next_shard_iterator().map(str::to_owned);
        if shard.iterator.is_none() {
            shard.exhausted = true;
        }
        Ok(())
    }

    async fn deliver_shard<F, Fut>(&mut self, id: &str, deliver: &mut F, polled: &mut Polled)
    where
        F: FnMut(Value) -> Fut,
        Fut: Future<Output = Result<Vec<String>, String>>,
    {
        let Some(shard) = self.shards.get_mut(id) else {
            return;
        };
        while !shard.pending.is_empty() {
            let batch: Vec<Value> = shard.pending.iter().take(BATCH_SIZE).cloned().collect();
            let failed = match deliver(json!({ "Records": batch })).await {
                Ok(failed) => failed,
                Err(e) => {
                    tracing::warn!(error = %e, "invoking the stream function failed");
                    vec![sequence_number(&batch[0]).to_owned()]
                }
            };
            // Everything before the earliest failure is done, as on AWS.
            let done = batch
                .iter()
                .position(|r| failed.iter().any(|f| f == sequence_number(r)))
                .unwrap_or(batch.len());
            for _ in 0..done {
                shard.pending.pop_front();
            }
            polled.delivered += done;
            if done < batch.len() {
                polled.failed += 1;
                shard.attempts = if done > 0 { 1 } else { shard.attempts + 1 };
                if shard.attempts > MAX_RETRIES {
                    // AWS would now send the record's details to the on-failure queue.
                    if let Some(dropped) = shard.pending.pop_front() {
                        tracing::error!(
                            sequence_number = sequence_number(&dropped),
                            "record failed {MAX_RETRIES} retries; dropped"
                        );
                    }
                    polled.discarded += 1;
                    shard.attempts = 0;
                }
                return;
            }
            shard.attempts = 0;
        }
    }
}

fn sequence_number(record: &Value) -> &str {
    record["dynamodb"]["SequenceNumber"]
        .as_str()
        .unwrap_or_default()
}

/// A stream record as Lambda's event source mapping delivers it on AWS (see the module
/// documentation for the one translation DynamoDB Local needs).
pub fn lambda_record(record: &Record, stream_arn: &str) -> Value {
    let raw_name = record.event_name().map(OperationType::as_str);
    let by_ttl = raw_name == Some(LOCAL_TTL_EVENT_NAME);
    let event_name = if by_ttl {
        "REMOVE"
    } else {
        raw_name.unwrap_or_default()
    };
    let mut change = Map::new();
    if let Some(at) = record
        .dynamodb()
        .and_then(|d| d.approximate_creation_date_time())
    {
        change.insert("ApproximateCreationDateTime".into(), json!(at.secs()));
    }
    if let Some(d) = record.dynamodb() {
        for (name, image) in [
            ("Keys", d.keys()),
            ("NewImage", d.new_image()),
            ("OldImage", d.old_image()),
        ] {
            if let Some(image) = image {
                change.insert(name.into(), item_json(image));
            }
        }
        change.insert("SequenceNumber".into(), json!(d.sequence_number()));
        change.insert("SizeBytes".into(), json!(d.size_bytes().unwrap_or(0)));
        if let Some(view) = d.stream_view_type() {
            change.insert("StreamViewType".into(), json!(view.as_str()));
        }
    }
    let mut out = json!({
        "eventID": record.event_id().unwrap_or_default(),
        "eventName": event_name,
        "eventVersion": record.event_version().unwrap_or("1.1"),
        "eventSource": record.event_source().unwrap_or("aws:dynamodb"),
        "awsRegion": record.aws_region().unwrap_or("us-east-1"),
        "dynamodb": Value::Object(change),
        "eventSourceARN": stream_arn,
    });
    if by_ttl {
        out["userIdentity"] = json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"});
    } else if let Some(who) = record.user_identity() {
        out["userIdentity"] = json!({
            "type": who.r#type().unwrap_or_default(),
            "principalId": who.principal_id().unwrap_or_default(),
        });
    }
    out
}

/// An item in DynamoDB's JSON (`{"S": "…"}`), as stream events carry it.
fn item_json(item: &HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute_json(v)))
            .collect(),
    )
}

fn attribute_json(v: &AttributeValue) -> Value {
    let b64 = |b: &aws_sdk_dynamodbstreams::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(b.as_ref())
    };
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": b64(b) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(v) => json!({ "SS": v }),
        AttributeValue::Ns(v) => json!({ "NS": v }),
        AttributeValue::Bs(v) => json!({ "BS": v.iter().map(b64).collect::<Vec<_>>() }),
        AttributeValue::L(v) => json!({ "L": v.iter().map(attribute_json).collect::<Vec<_>>() }),
        AttributeValue::M(m) => json!({ "M": item_json(m) }),
        _ => json!({ "NULL": true }),
    }
}

/// Whether `event` matches an event filter pattern of the kind Lambda's FilterCriteria
/// take, limited to what the template uses: objects match field by field, and an array
/// lists the values a field may equal.
pub fn matches(pattern: &Value, event: &Value) -> bool {
    match pattern {
        Value::Object(fields) => fields
            .iter()
            .all(|(name, p)| event.get(name).is_some_and(|e| matches(p, e))),
        Value::Array(allowed) => allowed.iter().any(|a| a == event),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodbstreams::types::{Identity, StreamRecord, StreamViewType};

    fn record(event_name: &str, entity: &str, who: Option<Identity>) -> Record {
        let old = StreamRecord::builder()
            .approximate_creation_date_time(
                aws_sdk_dynamodbstreams::primitives::DateTime::from_secs(1_736_937_000),
            )
            .keys(
                "pk",
                AttributeValue::S("acme#staging#SESSION#sess_1".into()),
            )
            .keys("sk", AttributeValue::S("TIMER#EXPIRY".into()))
            .old_image("entity", AttributeValue::S(entity.into()))
            .old_image("ttl", AttributeValue::N("1736937000".into()))
            .old_image(
                "flags",
                AttributeValue::L(vec![AttributeValue::Bool(true), AttributeValue::Null(true)]),
            )
            .sequence_number("000000000000000000042")
            .size_bytes(120)
            .stream_view_type(StreamViewType::NewAndOldImages)
            .build();
        Record::builder()
            .event_id("e1")
            .event_name(OperationType::from(event_name))
            .event_version("1.1")
            .event_source("aws:dynamodb")
            .aws_region("ddblocal")
            .dynamodb(old)
            .set_user_identity(who)
            .build()
    }

    const ARN: &str =
        "arn:aws:dynamodb:ddblocal:000000000000:table/t/stream/2025-01-01T00:00:00.000";

    #[test]
    fn a_local_ttl_deletion_becomes_what_aws_sends_and_passes_the_filter() {
        let filter: Value = serde_json::from_str(TTL_TIMER_FILTER).expect("pattern");
        let event = lambda_record(&record(LOCAL_TTL_EVENT_NAME, "timer", None), ARN);
        assert_eq!(event["eventName"], "REMOVE");
        assert_eq!(
            event["userIdentity"],
            json!({"type": "Service", "principalId": "dynamodb.amazonaws.com"})
        );
        assert_eq!(event["eventSourceARN"], ARN);
        assert_eq!(
            event["dynamodb"]["OldImage"]["entity"],
            json!({"S": "timer"})
        );
        assert_eq!(
            event["dynamodb"]["OldImage"]["flags"],
            json!({"L": [{"BOOL": true}, {"NULL": true}]})
        );
        assert_eq!(
            event["dynamodb"]["ApproximateCreationDateTime"],
            1_736_937_000
        );
        assert!(matches(&filter, &event));

        // aws_lambda_events reads it as the function will.
        let parsed: aws_lambda_events::event::dynamodb::Event =
            serde_json::from_value(json!({"Records": [event]})).expect("a DynamoDB event");
        let r = &parsed.records[0];
        assert_eq!(r.event_name, "REMOVE");
        let who = r.user_identity.as_ref().expect("userIdentity");
        assert_eq!(
            (who.type_.as_str(), who.principal_id.as_str()),
            ("Service", "dynamodb.amazonaws.com")
        );
        assert_eq!(
            r.change.sequence_number.as_deref(),
            Some("000000000000000000042")
        );
    }

    #[test]
    fn manual_deletes_and_other_items_are_filtered_out() {
        let filter: Value = serde_json::from_str(TTL_TIMER_FILTER).expect("pattern");
        let manual = lambda_record(&record("REMOVE", "timer", None), ARN);
        assert_eq!(manual["eventName"], "REMOVE");
        assert!(manual.get("userIdentity").is_none());
        assert!(!matches(&filter, &manual));
        let idempotency = lambda_record(&record(LOCAL_TTL_EVENT_NAME, "idempotency", None), ARN);
        assert!(!matches(&filter, &idempotency));
        let insert = lambda_record(&record("INSERT", "timer", None), ARN);
        assert!(!matches(&filter, &insert));
        // A real AWS TTL record passes through unchanged.
        let aws = Identity::builder()
            .r#type("Service")
            .principal_id("dynamodb.amazonaws.com")
            .build();
        assert!(matches(
            &filter,
            &lambda_record(&record("REMOVE", "timer", Some(aws)), ARN)
        ));
    }
}
