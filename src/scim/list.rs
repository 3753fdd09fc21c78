//! List responses and paging (RFC 7644 §3.4.2, §3.4.2.4).
//!
//! Invariant: `startIndex` is 1-based; a value below 1 is read as 1 and a
//! negative `count` as 0, as the RFC says; `itemsPerPage` is the number of
//! resources actually returned.

use serde::{Serialize, Serializer};
use serde_json::{json, Value};

use super::urn::LIST_RESPONSE;

/// A `ListResponse` message.
#[derive(Debug, Clone, PartialEq)]
pub struct ListResponse {
    /// Total number of results matching the query (all pages).
    pub total_results: usize,
    /// 1-based index of the first result on this page.
    pub start_index: usize,
    /// The resources on this page.
    pub resources: Vec<Value>,
}

impl ListResponse {
    /// A page of `resources` out of `total_results`, starting at `start_index`.
    #[must_use]
    pub fn new(resources: Vec<Value>, total_results: usize, start_index: usize) -> Self {
        Self {
            total_results,
            start_index: start_index.max(1),
            resources,
        }
    }

    /// An empty result (what Entra's Test Connection expects for an unknown
    /// `userName`).
    #[must_use]
    pub fn empty() -> Self {
        Self::new(Vec::new(), 0, 1)
    }

    /// Number of resources on this page.
    #[must_use]
    pub fn items_per_page(&self) -> usize {
        self.resources.len()
    }

    /// The JSON message.
    #[must_use]
    pub fn to_value(&self) -> Value {
        json!({
            "schemas": [LIST_RESPONSE],
            "totalResults": self.total_results,
            "startIndex": self.start_index,
            "itemsPerPage": self.items_per_page(),
            "Resources": self.resources,
        })
    }
}

impl Serialize for ListResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_value().serialize(serializer)
    }
}

/// Paging parameters after RFC 7644 §3.4.2.4 normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 1-based start index (at least 1).
    pub start_index: usize,
    /// Page size (0 asks for the total only).
    pub count: usize,
}

impl Page {
    /// Normalises the raw `startIndex` / `count` query values: a missing or
    /// sub-1 `startIndex` is 1, a missing `count` is `default_count`, a
    /// negative one 0, and none exceeds `max_count`.
    #[must_use]
    pub fn new(
        start_index: Option<i64>,
        count: Option<i64>,
        default_count: usize,
        max_count: usize,
    ) -> Self {
        let start_index = start_index
            .and_then(|s| usize::try_from(s).ok())
            .unwrap_or(1)
            .max(1);
        let count = match count {
            None => default_count,
            Some(c) => usize::try_from(c).unwrap_or(0),
        }
        .min(max_count);
        Self { start_index, count }
    }

    /// 0-based offset of the first item.
    #[must_use]
    pub fn offset(&self) -> usize {
        self.start_index.saturating_sub(1)
    }

    /// The items of `all` on this page.
    #[must_use]
    pub fn slice<'a, T>(&self, all: &'a [T]) -> &'a [T] {
        let start = self.offset().min(all.len());
        let end = start.saturating_add(self.count).min(all.len());
        all.get(start..end).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_list_is_what_test_connection_expects() {
        assert_eq!(
            ListResponse::empty().to_value(),
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"],
                "totalResults": 0,
                "startIndex": 1,
                "itemsPerPage": 0,
                "Resources": []
            })
        );
    }

    #[test]
    fn serialises_like_to_value() {
        let l = ListResponse::new(vec![json!({"id": "a"})], 7, 3);
        assert_eq!(serde_json::to_value(&l).ok(), Some(l.to_value()));
        assert_eq!(l.to_value()["itemsPerPage"], 1);
    }

    #[test]
    fn paging_is_one_based_and_clamped() {
        assert_eq!(
            Page::new(Some(0), Some(-5), 100, 200),
            Page {
                start_index: 1,
                count: 0
            }
        );
        assert_eq!(
            Page::new(None, None, 100, 50),
            Page {
                start_index: 1,
                count: 50
            }
        );
        let p = Page::new(Some(3), Some(2), 100, 200);
        assert_eq!(p.slice(&[1, 2, 3, 4, 5]), &[3, 4]);
        assert!(Page::new(Some(99), Some(2), 100, 200)
            .slice(&[1, 2])
            .is_empty());
    }
}
