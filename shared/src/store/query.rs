//! Paginated lists over one or more partitions of the table or an index.
//!
//! A list names the partitions that hold its items (one for "all sessions", one per status
//! for `filter[status]=a,b`) and the sort-key prefix under which each item's *position*
//! (`created_at#id`, or an event's sequence number) is written. Positions are the same in
//! every partition, so a cursor is just a position: each partition is queried from it with a
//! key condition, and the results are merged. No offsets, no scans.
//!
//! Every request reads a bounded number of items, however selective its filter: one Query
//! per partition, evaluating at most `page[size] + 1` items, or [`FILTERED_READ`] when a
//! filter expression may discard some. Like DynamoDB itself, a list whose read stops before
//! the page fills answers a short (possibly empty) page whose `next` cursor resumes exactly
//! where the read stopped. `page[total]` counts among at most [`TOTAL_READ`] items in at
//! most [`TOTAL_QUERIES`] Queries, and says when the count is only a lower bound.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, Select};

use super::keys::{Index, PK, SK};
use super::{s, sdk_error, Item, Store, StoreError};

/// Which way a cursor points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// The page after the cursor (`page[after]`).
    After,
    /// The page before the cursor (`page[before]`).
    Before,
}

/// What page to fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    /// Items per page (1–100).
    pub size: usize,
    /// Where to continue from.
    pub cursor: Option<(Direction, String)>,
    /// Whether to count all matching items (`page[total]=true`).
    pub total: bool,
}

/// Items one Query of a filtered list may evaluate (DynamoDB's `Limit` counts items read,
/// before the filter): the read bound of a filtered page, per partition.
pub const FILTERED_READ: usize = 100;
/// Items a `page[total]` count may evaluate, over all partitions.
pub const TOTAL_READ: usize = 1000;
/// Queries a `page[total]` count may send (each reads at most 1 MB).
pub const TOTAL_QUERIES: usize = 10;

/// How many items match, as far as the bounded count got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Total {
    /// Matching items counted.
    pub count: u64,
    /// True when the count stopped at its bound: at least `count` items match.
    pub lower_bound: bool,
}

/// A page of items in their natural order, with where it sits.
#[derive(Debug, Clone)]
pub struct Page<T> {
    /// The items with their positions.
    pub items: Vec<(String, T)>,
    /// Where the next page starts (`page[after]`), when items may follow: the last item's
    /// position, or where the read stopped when it stopped before the page filled.
    pub next: Option<String>,
    /// Where the previous page ends (`page[before]`), when items may precede.
    pub previous: Option<String>,
    /// How many items match, when asked for.
    pub total: Option<Total>,
}

impl<T> Page<T> {
    /// Converts the items, keeping positions.
    pub fn try_map<U, E>(self, mut f: impl FnMut(T) -> Result<U, E>) -> Result<Page<U>, E> {
        let mut items = Vec::with_capacity(self.items.len());
        for (pos, item) in self.items {
            items.push((pos, f(item)?));
        }
        Ok(Page {
            items,
            next: self.next,
            previous: self.previous,
            total: self.total,
        })
    }

    /// More items may follow.
    pub fn has_next(&self) -> bool {
        self.next.is_some()
    }

    /// More items may precede.
    pub fn has_previous(&self) -> bool {
        self.previous.is_some()
    }
}

/// A filter expression with its own placeholders. Placeholders must not start with `#k_`
/// or `:k_`, which the key condition uses.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// The expression.
    pub expression: String,
    /// `#name` placeholders.
    pub names: HashMap<String, String>,
    /// `:value` placeholders.
    pub values: HashMap<String, AttributeValue>,
}

impl Filter {
    /// `attribute IN (values…)`; `tag` keeps its placeholders apart from other filters'.
    pub fn one_of(tag: &str, attribute: &str, values: &[&str]) -> Filter {
        let mut placeholders = Vec::with_capacity(values.len());
        let mut bound = HashMap::new();
        for (i, v) in values.iter().enumerate() {
            let ph = format!(":f_{tag}{i}");
            bound.insert(ph.clone(), s(*v));
            placeholders.push(ph);
        }
        Filter {
            expression: format!("#f_{tag} IN ({})", placeholders.join(", ")),
            names: [(format!("#f_{tag}"), attribute.to_owned())].into(),
            values: bound,
        }
    }

    /// Both filters must hold.
    pub fn and(self, other: Filter) -> Filter {
        if self.expression.is_empty() {
            return other;
        }
        if other.expression.is_empty() {
            return self;
        }
        let mut names = self.names;
        names.extend(other.names);
        let mut values = self.values;
        values.extend(other.values);
        Filter {
            expression: format!(
                "{} AND {}",
                group(&self.expression),
                group(&other.expression)
            ),
            names,
            values,
        }
    }
}

/// Parenthesises an expression for use as an AND operand, only where precedence needs it:
/// DynamoDB rejects "redundant parentheses" such as `((a = b))`.
fn group(expr: &str) -> String {
    let wrapped = expr.starts_with('(') && {
        // Already one group from first to last character?
        let mut depth = 0i32;
        let mut closes_early = false;
        for (i, c) in expr.char_indices() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth -= 1;
                    if depth == 0 && i != expr.len() - 1 {
                        closes_early = true;
                    }
                }
                _ => {}
            }
        }
        !closes_early
    };
    if wrapped || !expr.contains(" OR ") {
        expr.to_owned()
    } else {
        format!("({expr})")
    }
}

/// One partition a list reads.
#[derive(Debug, Clone)]
pub struct Partition {
    /// The index, or `None` for the table itself.
    pub index: Option<Index>,
    /// The partition key value.
    pub pk: String,
    /// The sort-key prefix before each item's position.
    pub sk_prefix: String,
    /// A filter for this partition only.
    pub filter: Option<Filter>,
}

/// A list: where its items are, in which natural order, within which position range.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// The partitions to merge.
    pub partitions: Vec<Partition>,
    /// Newest first (`false`) or oldest first (`true`, event logs).
    pub ascending: bool,
    /// Lowest position, inclusive.
    pub from: Option<String>,
    /// Highest position, inclusive (a position *prefix*: everything starting with it is in).
    pub to: Option<String>,
    /// A filter for every partition.
    pub filter: Option<Filter>,
}

/// Sorts above every character that occurs in positions (timestamps, ids, `#`, digits).
const HIGH: &str = "~";

impl Store {
    /// Fetches one page of `query`: one Query per partition, each evaluating at most
    /// [`read_limit`] items. Where a partition's read stopped early (its `Limit` or
    /// DynamoDB's 1 MB), items past that point in other partitions are left for the next
    /// page, which resumes from the least advanced stop: the page may come out short, even
    /// empty, with a `next` position, but never skips or repeats an item.
    pub async fn list(
        &self,
        query: &ListQuery,
        page: &PageRequest,
    ) -> Result<Page<Item>, StoreError> {
        let reverse = matches!(page.cursor, Some((Direction::Before, _)));
        // Reading order: the natural order, or its opposite when paging backwards.
        let read_ascending = query.ascending != reverse;
        // `a` comes after `b` in reading order.
        let later = |a: &str, b: &str| if read_ascending { a > b } else { a < b };
        let cursor = page.cursor.as_ref().map(|(_, pos)| pos.as_str());

        let mut merged: Vec<(String, Item)> = Vec::new();
        // The least advanced point where a partition's read stopped with items left.
        let mut stopped: Option<String> = None;
        for partition in &query.partitions {
            let (mut lo, mut hi) = bounds(query, partition);
            if let Some(c) = cursor {
                let at = format!("{}{c}", partition.sk_prefix);
                if read_ascending {
                    lo = lo.max(at);
                } else {
                    hi = hi.min(at);
                }
            }
            if lo > hi {
                continue;
            }
            let filter = combine(query.filter.clone(), partition.filter.clone());
            let mut req = self
                .key_condition(partition, &lo, &hi, filter.as_ref())
                .scan_index_forward(read_ascending)
                // The cursor's own item is read again (the key condition is inclusive) and
                // does not count against the page.
                .limit(read_limit(page.size, filter.is_some()) + i32::from(cursor.is_some()));
            if let Some(index) = partition.index {
                req = req.index_name(index.name);
            }
            let out = req.send().await.map_err(|e| sdk_error("listing", e))?;
            for item in out.items.unwrap_or_default() {
                let Some(pos) = position_of(&item, partition) else {
                    continue;
                };
                if Some(pos.as_str()) != cursor {
                    merged.push((pos, item));
                }
            }
            if let Some(last) = out.last_evaluated_key {
                let at = position_of(&last, partition).ok_or_else(|| StoreError::Dynamo {
                    context: "listing",
                    source: "a Query stopped at a key outside its partition's prefix".into(),
                })?;
                if stopped.as_deref().is_none_or(|s| later(s, &at)) {
                    stopped = Some(at);
                }
            }
        }
        merged.sort_by(|a, b| {
            if read_ascending {
                a.0.cmp(&b.0)
            } else {
                b.0.cmp(&a.0)
            }
        });
        merged.dedup_by(|a, b| a.0 == b.0);
        // Past the least advanced stop, other partitions were not read: leave it all for
        // the next page.
        if let Some(s) = &stopped {
            merged.retain(|(pos, _)| !later(pos, s));
        }
        let full = merged.len() > page.size;
        merged.truncate(page.size);
        // Where reading goes on, in reading order, if anything may be left.
        let resume = if full {
            merged.last().map(|(pos, _)| pos.clone())
        } else {
            stopped
        };
        if reverse {
            merged.reverse();
        }
        let first = merged.first().map(|(pos, _)| pos.clone());
        let last = merged.last().map(|(pos, _)| pos.clone());
        let (next, previous) = match &page.cursor {
            None => (resume, None),
            Some((Direction::After, c)) => (resume, Some(first.unwrap_or_else(|| c.clone()))),
            Some((Direction::Before, c)) => (Some(last.unwrap_or_else(|| c.clone())), resume),
        };
        let total = if page.total {
            Some(self.count_bounded(query).await?)
        } else {
            None
        };
        Ok(Page {
            items: merged,
            next,
            previous,
            total,
        })
    }

    /// Every item of `query`, page by page (for cascades such as redaction, never for a
    /// response).
    pub async fn list_all(&self, query: &ListQuery) -> Result<Vec<Item>, StoreError> {
        let mut out = Vec::new();
        let mut page = PageRequest {
            size: 100,
            cursor: None,
            total: false,
        };
        loop {
            let got = self.list(query, &page).await?;
            out.extend(got.items.into_iter().map(|(_, item)| item));
            match got.next {
                Some(pos) => page.cursor = Some((Direction::After, pos)),
                None => return Ok(out),
            }
        }
    }

    /// Counts the items of `query` (for `page[total]`), evaluating at most [`TOTAL_READ`]
    /// items in at most [`TOTAL_QUERIES`] Queries; a count that hit either bound is a
    /// lower bound.
    async fn count_bounded(&self, query: &ListQuery) -> Result<Total, StoreError> {
        let mut count = 0u64;
        let mut budget = TOTAL_READ;
        let mut queries = 0usize;
        for partition in &query.partitions {
            let (lo, hi) = bounds(query, partition);
            if lo > hi {
                continue;
            }
            let filter = combine(query.filter.clone(), partition.filter.clone());
            let mut start: Option<Item> = None;
            loop {
                if budget == 0 || queries == TOTAL_QUERIES {
                    return Ok(Total {
                        count,
                        lower_bound: true,
                    });
                }
                let mut req = self
                    .key_condition(partition, &lo, &hi, filter.as_ref())
                    .select(Select::Count)
                    .limit(i32::try_from(budget).unwrap_or(i32::MAX))
                    .set_exclusive_start_key(start.take());
                if let Some(index) = partition.index {
                    req = req.index_name(index.name);
                }
                let out = req.send().await.map_err(|e| sdk_error("counting", e))?;
                queries += 1;
                count += u64::try_from(out.count).unwrap_or(0);
                let read = usize::try_from(out.scanned_count).unwrap_or(budget);
                budget = budget.saturating_sub(read.max(1));
                start = out.last_evaluated_key;
                if start.is_none() {
                    break;
                }
            }
        }
        Ok(Total {
            count,
            lower_bound: false,
        })
    }

    fn key_condition(
        &self,
        partition: &Partition,
        lo: &str,
        hi: &str,
        filter: Option<&Filter>,
    ) -> aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder {
        let (pk_attr, sk_attr) = match partition.index {
            Some(index) => (index.pk, index.sk),
            None => (PK, SK),
        };
        let mut req = self
            .client()
            .query()
            .table_name(self.table())
            .expression_attribute_names("#k_pk", pk_attr)
            .expression_attribute_names("#k_sk", sk_attr)
            .expression_attribute_values(":k_pk", s(partition.pk.clone()))
            .expression_attribute_values(":k_hi", s(hi));
        // DynamoDB refuses an empty string as a key value, so an open lower bound is left out.
        req = if lo.is_empty() {
            req.key_condition_expression("#k_pk = :k_pk AND #k_sk <= :k_hi")
        } else {
            req.key_condition_expression("#k_pk = :k_pk AND #k_sk BETWEEN :k_lo AND :k_hi")
                .expression_attribute_values(":k_lo", s(lo))
        };
        if let Some(f) = filter {
            // DynamoDB rejects placeholders the expression does not use, and filters are
            // assembled from parts that share a vocabulary: pass only what is mentioned.
            req = req.filter_expression(f.expression.clone());
            for (k, v) in f.names.iter().filter(|(k, _)| mentions(&f.expression, k)) {
                req = req.expression_attribute_names(k, v);
            }
            for (k, v) in f.values.iter().filter(|(k, _)| mentions(&f.expression, k)) {
                req = req.expression_attribute_values(k, v.clone());
            }
        }
        req
    }
}

/// Items one Query of a page may evaluate: one more than the page (to know whether more
/// follow), or [`FILTERED_READ`] (at least that) when a filter may discard items.
pub fn read_limit(size: usize, filtered: bool) -> i32 {
    let n = if filtered {
        (size + 1).max(FILTERED_READ)
    } else {
        size + 1
    };
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// True if `placeholder` occurs in `expression` as a whole token.
fn mentions(expression: &str, placeholder: &str) -> bool {
    expression.match_indices(placeholder).any(|(i, _)| {
        expression[i + placeholder.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_'))
    })
}

fn combine(a: Option<Filter>, b: Option<Filter>) -> Option<Filter> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.and(b)),
        (a, b) => a.or(b),
    }
}

/// The inclusive sort-key range of a partition for the query's position range.
fn bounds(query: &ListQuery, partition: &Partition) -> (String, String) {
    let p = &partition.sk_prefix;
    let lo = match &query.from {
        Some(from) => format!("{p}{from}"),
        None => p.clone(),
    };
    let hi = match &query.to {
        Some(to) => format!("{p}{to}{HIGH}"),
        None => format!("{p}{HIGH}"),
    };
    (lo, hi)
}

fn position_of(item: &Item, partition: &Partition) -> Option<String> {
    let sk_attr = partition.index.map_or(SK, |i| i.sk);
    match item.get(sk_attr) {
        Some(AttributeValue::S(sk)) => sk
            .strip_prefix(partition.sk_prefix.as_str())
            .map(str::to_owned),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn and_adds_only_needed_parentheses() {
        let f = |e: &str| Filter {
            expression: e.into(),
            ..Filter::default()
        };
        assert_eq!(f("a = b").and(f("c = d")).expression, "a = b AND c = d");
        assert_eq!(
            f("a = b").and(f("c = d OR e = f")).expression,
            "a = b AND (c = d OR e = f)"
        );
        assert_eq!(
            f("(c = d OR e = f)").and(f("a = b")).expression,
            "(c = d OR e = f) AND a = b"
        );
        assert_eq!(f("(a) OR (b)").and(f("c")).expression, "((a) OR (b)) AND c");
    }

    #[test]
    fn reads_are_bounded_and_still_fill_a_page() {
        assert_eq!(
            read_limit(15, false),
            16,
            "one more tells whether more follow"
        );
        assert_eq!(read_limit(15, true), FILTERED_READ as i32);
        assert_eq!(read_limit(100, true), 101);
    }

    #[test]
    fn mentions_whole_tokens_only() {
        assert!(mentions("#a = :s1 OR #a = :s10", ":s10"));
        assert!(mentions("#a = :s1 OR #a = :s10", ":s1"));
        assert!(!mentions("#a = :s10", ":s1"));
        assert!(mentions("(#a = :s1)", ":s1"));
    }

    #[test]
    fn bounds_cover_whole_days_and_prefixes() {
        let q = ListQuery {
            partitions: vec![],
            ascending: false,
            from: Some("2025-01-15T00:00:00.000Z".into()),
            to: Some("2025-01-15T23:59:59.999Z".into()),
            filter: None,
        };
        let p = Partition {
            index: None,
            pk: "x".into(),
            sk_prefix: "SESSION#".into(),
            filter: None,
        };
        let (lo, hi) = bounds(&q, &p);
        let inside = "SESSION#2025-01-15T23:59:59.999Z#sess_01HQ0000000000000000000000";
        assert!(lo.as_str() <= inside && inside <= hi.as_str());
        assert!("SESSION#2025-01-16T00:00:00.000Z#sess_" > hi.as_str());
    }
}
