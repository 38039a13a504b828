//! The query string of `GET /events`, turned into a feed filter. Every bad value answers 400
//! `invalid_parameter` naming its parameter, so a typo never widens the list silently.

use idv::domain::feed::TypeFilter;
use idv::domain::ids::SessionId;
use idv::http::pagination::ListParams;
use idv::http::ApiError;
use idv::store::feed::FeedFilter;

/// The filters `GET /events` accepts.
pub const LIST_FILTERS: [&str; 4] = [
    "filter[type]",
    "filter[session_id]",
    "filter[created_at_from]",
    "filter[created_at_to]",
];

/// Reads the feed filters of `params`.
pub fn list_filter(params: &ListParams) -> Result<FeedFilter, ApiError> {
    let mut f = FeedFilter {
        types: params.filter_list(
            &["filter[type]"],
            "event types (or a group such as session.*)",
            TypeFilter::parse,
        )?,
        ..FeedFilter::default()
    };
    if let Some((name, v)) = params.filter(&["filter[session_id]"]) {
        f.session_id = Some(
            SessionId::parse(v)
                .map_err(|_| ApiError::parameter(name, "must be a session id (sess_…)"))?,
        );
    }
    (f.created_from, f.created_to) = params.created_range()?;
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> Result<FeedFilter, ApiError> {
        list_filter(&ListParams::parse(Some(q), &LIST_FILTERS)?)
    }

    #[test]
    fn filters_parse_and_refuse_garbage() {
        let f = parse("filter[type]=session.*,account.created&filter[session_id]=sess_01HQ0000000000000000000000&filter[created_at_from]=2025-01-01T00:00:00Z")
            .expect("valid");
        assert_eq!(f.types.len(), 2);
        assert!(f.session_id.is_some() && f.created_from.is_some());
        for bad in [
            "filter[type]=session.nope",
            "filter[type]=*",
            "filter[session_id]=acc_01HQ0000000000000000000000",
            "filter[created_at_to]=yesterday",
            "filter[created_at_from]=2025-02-01T00:00:00Z&filter[created_at_to]=2025-01-01T00:00:00Z",
            "filter[kind]=x",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
