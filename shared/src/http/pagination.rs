//! List parameters (`page[…]`, `filter[…]`), signed cursors, and collection links.
//!
//! A cursor is the position of an item (`created_at#id`) with an HMAC over the tenancy, the
//! list and its filters. A cursor edited by hand, minted for another tenant, or replayed
//! against other filters fails the check and answers 400 `invalid_parameter`, instead of
//! quietly paging through something else.

use std::collections::BTreeMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

use super::error::ApiError;
use super::middleware::BasePath;
use crate::domain::values::{Tenancy, Timestamp};
use crate::store::query::{Direction, Page, PageRequest};

/// Default page size.
pub const DEFAULT_SIZE: usize = 15;
/// Largest page size.
pub const MAX_SIZE: usize = 100;

/// The parameters of a list request.
#[derive(Debug, Clone)]
pub struct ListParams {
    /// `page[size]`.
    pub size: usize,
    /// `page[total]`.
    pub total: bool,
    cursor: Option<(Direction, String)>,
    /// Filters by their parameter name as sent (`filter[status]`, or a bare alias).
    pub filters: BTreeMap<String, String>,
}

impl ListParams {
    /// Parses a query string. `allowed` lists the filter parameters this list accepts;
    /// anything else is refused so that a misspelt filter never silently lists everything.
    pub fn parse(raw: Option<&str>, allowed: &[&str]) -> Result<ListParams, ApiError> {
        let mut params = ListParams {
            size: DEFAULT_SIZE,
            total: false,
            cursor: None,
            filters: BTreeMap::new(),
        };
        let mut seen = std::collections::HashSet::new();
        for (key, value) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
            let key = key.into_owned();
            if !seen.insert(key.clone()) {
                return Err(ApiError::parameter(key, "is given more than once"));
            }
            match key.as_str() {
                "page[size]" => {
                    params.size = value
                        .parse::<usize>()
                        .ok()
                        .filter(|n| (1..=MAX_SIZE).contains(n))
                        .ok_or_else(|| {
                            ApiError::parameter(&key, "must be an integer from 1 to 100")
                        })?;
                }
                "page[total]" => {
                    params.total = match value.as_ref() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(ApiError::parameter(&key, "must be true or false")),
                    };
                }
                "page[after]" | "page[before]" => {
                    if params.cursor.is_some() {
                        return Err(ApiError::parameter(
                            &key,
                            "page[after] and page[before] cannot be combined",
                        ));
                    }
                    if value.is_empty() {
                        return Err(ApiError::parameter(
                            &key,
                            "must be a cursor from a previous page",
                        ));
                    }
                    let dir = if key == "page[after]" {
                        Direction::After
                    } else {
                        Direction::Before
                    };
                    params.cursor = Some((dir, value.into_owned()));
                }
                k if allowed.contains(&k) => {
                    params.filters.insert(key.clone(), value.into_owned());
                }
                _ => return Err(ApiError::parameter(key, "is not a parameter of this list")),
            }
        }
        Ok(params)
    }

    /// A comma-separated filter (`filter[status]=created,started`) parsed item by item,
    /// without repeats; empty when the filter was not given. `what` names the expected
    /// items in the 400 (e.g. "session statuses").
    pub fn filter_list<T: PartialEq>(
        &self,
        names: &[&str],
        what: &str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Vec<T>, ApiError> {
        let mut out = Vec::new();
        if let Some((name, v)) = self.filter(names) {
            for part in v.split(',').map(str::trim) {
                let item = parse(part).ok_or_else(|| {
                    ApiError::parameter(name, format!("must be {what} separated by commas"))
                })?;
                if !out.contains(&item) {
                    out.push(item);
                }
            }
        }
        Ok(out)
    }

    /// The value of the first of `names` that was given (a filter and its aliases).
    pub fn filter(&self, names: &[&str]) -> Option<(&str, &str)> {
        names.iter().find_map(|n| {
            self.filters
                .get_key_value(*n)
                .map(|(k, v)| (k.as_str(), v.as_str()))
        })
    }

    /// `filter[created_at_from]` and `filter[created_at_to]` as timestamps (400 naming the
    /// parameter that is not RFC 3339, or `from` when it lies after `to`).
    pub fn created_range(&self) -> Result<(Option<Timestamp>, Option<Timestamp>), ApiError> {
        let at = |key: &str| -> Result<Option<Timestamp>, ApiError> {
            match self.filter(&[key]) {
                None => Ok(None),
                Some((name, v)) => Timestamp::parse(v)
                    .map(Some)
                    .ok_or_else(|| ApiError::parameter(name, "must be an RFC 3339 timestamp")),
            }
        };
        let (from, to) = (at("filter[created_at_from]")?, at("filter[created_at_to]")?);
        if let (Some(from), Some(to)) = (from, to) {
            if from > to {
                return Err(ApiError::parameter(
                    "filter[created_at_from]",
                    "must not be after filter[created_at_to]",
                ));
            }
        }
        Ok((from, to))
    }
}

/// Signs and checks cursors for one list of one tenancy with given filters.
pub struct Cursors {
    mac: Hmac<Sha256>,
}

impl Cursors {
    /// Cursors for `list` (e.g. `sessions`) of `tenancy` under `params`' filters.
    pub fn new(secret: &[u8], tenancy: &Tenancy, list: &str, params: &ListParams) -> Cursors {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| {
            <Hmac<Sha256> as Mac>::new_from_slice(b"\0").expect("HMAC takes any key length")
        });
        mac.update(format!("v1|{}|{}|{list}|", tenancy.tenant, tenancy.environment).as_bytes());
        for (k, v) in &params.filters {
            mac.update(format!("{}={}|", k.len(), k).as_bytes());
            mac.update(format!("{}={}|", v.len(), v).as_bytes());
        }
        Cursors { mac }
    }

    fn tag(&self, position: &str) -> Vec<u8> {
        let mut mac = self.mac.clone();
        mac.update(position.as_bytes());
        mac.finalize().into_bytes()[..16].to_vec()
    }

    /// The cursor for a position.
    pub fn sign(&self, position: &str) -> String {
        format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(position.as_bytes()),
            URL_SAFE_NO_PAD.encode(self.tag(position))
        )
    }

    /// The position inside a cursor, if the cursor is ours.
    pub fn verify(&self, cursor: &str) -> Option<String> {
        let (pos, tag) = cursor.split_once('.')?;
        let pos = String::from_utf8(URL_SAFE_NO_PAD.decode(pos).ok()?).ok()?;
        let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
        let mut mac = self.mac.clone();
        mac.update(pos.as_bytes());
        mac.verify_truncated_left(&tag).ok()?;
        (tag.len() == 16).then_some(pos)
    }

    /// The store's page request for `params`, checking its cursor.
    pub fn page_request(&self, params: &ListParams) -> Result<PageRequest, ApiError> {
        let cursor = match &params.cursor {
            None => None,
            Some((dir, raw)) => {
                let name = match dir {
                    Direction::After => "page[after]",
                    Direction::Before => "page[before]",
                };
                let pos = self.verify(raw).ok_or_else(|| {
                    ApiError::parameter(name, "is not a valid cursor for this list")
                })?;
                Some((*dir, pos))
            }
        };
        Ok(PageRequest {
            size: params.size,
            cursor,
            total: params.total,
        })
    }
}

fn query_string(params: &ListParams, cursor: Option<(&str, &str)>) -> String {
    let mut parts: Vec<String> = params
        .filters
        .iter()
        .map(|(k, v)| query_pair(k, v))
        .collect();
    parts.push(query_pair("page[size]", &params.size.to_string()));
    if params.total {
        parts.push(query_pair("page[total]", "true"));
    }
    if let Some((k, v)) = cursor {
        parts.push(query_pair(k, v));
    }
    parts.join("&")
}

/// `key=value` for a link's query, both percent-encoded: `page[size]` is sent as
/// `page%5Bsize%5D` because RFC 3986 reserves brackets for IP literals and strict URI parsers
/// (Java's `java.net.URI`, JSON Schema's `uri-reference`) refuse them in a query. Servers,
/// ours included, decode the two spellings alike.
pub fn query_pair(key: &str, value: &str) -> String {
    format!("{}={}", encode(key), encode(value))
}

fn encode(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// A collection document: `data`, `meta.page` and `links` (`null` where there is none).
pub fn collection<T>(
    base: &BasePath,
    path: &str,
    params: &ListParams,
    cursors: &Cursors,
    page: &Page<T>,
    data: Vec<Value>,
) -> Value {
    let own = params.cursor.as_ref().map(|(d, c)| {
        (
            if *d == Direction::After {
                "page[after]"
            } else {
                "page[before]"
            },
            c.as_str(),
        )
    });
    let url = |q: String| Value::String(format!("{}{path}?{q}", base.0));
    // A short page (the read bound stopped it) still links on: `next` resumes where the
    // read stopped, which may lie past the last item shown.
    let next = match &page.next {
        Some(pos) => url(query_string(
            params,
            Some(("page[after]", &cursors.sign(pos))),
        )),
        None => Value::Null,
    };
    let prev = match &page.previous {
        Some(pos) => url(query_string(
            params,
            Some(("page[before]", &cursors.sign(pos))),
        )),
        None => Value::Null,
    };
    let mut meta_page = json!({
        "size": params.size,
        "has_next": page.has_next(),
        "has_previous": page.has_previous(),
    });
    if let Some(total) = page.total {
        meta_page["total"] = json!(total.count);
        meta_page["total_is_lower_bound"] = json!(total.lower_bound);
    }
    json!({
        "data": data,
        "meta": {"page": meta_page},
        "links": {"self": url(query_string(params, own)), "next": next, "prev": prev},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::values::{Environment, TenantId};

    fn tenancy(t: &str) -> Tenancy {
        Tenancy {
            tenant: TenantId::parse(t).expect("tenant"),
            environment: Environment::Staging,
        }
    }

    #[test]
    fn cursors_round_trip_and_refuse_tampering_and_foreign_use() {
        let params =
            ListParams::parse(Some("filter%5Bstatus%5D=created"), &["filter[status]"]).expect("ok");
        let c = Cursors::new(b"0123456789abcdef", &tenancy("acme"), "sessions", &params);
        let cur = c.sign("2025-01-15T10:30:00.000Z#sess_01HQ0000000000000000000000");
        assert_eq!(
            c.verify(&cur).as_deref(),
            Some("2025-01-15T10:30:00.000Z#sess_01HQ0000000000000000000000")
        );

        let mut tampered = cur.clone().into_bytes();
        tampered[3] = if tampered[3] == b'A' { b'B' } else { b'A' };
        assert!(c
            .verify(&String::from_utf8(tampered).expect("utf8"))
            .is_none());
        assert!(c.verify("garbage").is_none());
        assert!(c.verify("").is_none());

        let other_tenant = Cursors::new(b"0123456789abcdef", &tenancy("evil"), "sessions", &params);
        assert!(other_tenant.verify(&cur).is_none());
        let other_filter =
            ListParams::parse(Some("filter[status]=approved"), &["filter[status]"]).expect("ok");
        let other = Cursors::new(
            b"0123456789abcdef",
            &tenancy("acme"),
            "sessions",
            &other_filter,
        );
        assert!(other.verify(&cur).is_none());
        let other_list = Cursors::new(b"0123456789abcdef", &tenancy("acme"), "accounts", &params);
        assert!(other_list.verify(&cur).is_none());
    }

    #[test]
    fn links_are_uri_references_that_parse_back_to_the_same_list() {
        let params = ListParams::parse(
            Some("filter[status]=created,approved&page[size]=2&page[total]=true"),
            &["filter[status]"],
        )
        .expect("ok");
        let query = query_string(&params, Some(("page[after]", "a b+c/=")));
        // RFC 3986 query characters only: no brackets, spaces or other reserved delimiters.
        assert!(
            query
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%&=+".contains(&b)),
            "{query}"
        );
        let back = ListParams::parse(Some(&query), &["filter[status]"]).expect("parses");
        assert_eq!(back.filters, params.filters);
        assert_eq!((back.size, back.total), (2, true));
        assert_eq!(back.cursor, Some((Direction::After, "a b+c/=".to_owned())));
    }

    #[test]
    fn parameters_are_checked() {
        let ok = ListParams::parse(Some("page[size]=100&page[total]=true"), &[]).expect("ok");
        assert_eq!((ok.size, ok.total), (100, true));
        for bad in [
            "page[size]=0",
            "page[size]=101",
            "page[size]=ten",
            "page[total]=yes",
            "page[after]=a&page[before]=b",
            "page[after]=",
            "filter[nope]=1",
            "sort=created_at",
            "page[size]=1&page[size]=2",
        ] {
            assert!(
                ListParams::parse(Some(bad), &["filter[status]"]).is_err(),
                "{bad}"
            );
        }
    }
}
