//! `POST /.search` at the service provider's root (RFC 7644 §3.4.3): one
//! filter over every resource type, answered as one `ListResponse` of Users
//! then Groups, each sorted within its type and projected by its own schema.
//!
//! Invariant: the page is the concatenation of the two types' result lists
//! cut at `startIndex` / `count`, so paging through it visits every match
//! once; the split is the pure [`second_request`].

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::authorized::Authorized;
use super::request::{check_filter_attributes, json_body, scim_response, ListParams};
use super::{ApiError, AppState};
use crate::directory::ListRequest;
use crate::scim::ListResponse;

/// The second type's `(startIndex, count)` once the first type answered
/// `returned` of its `first_total` matches for a request of
/// `(start_index, count)` (1-based, as in the request).
#[must_use]
pub(super) fn second_request(
    start_index: usize,
    count: usize,
    first_total: usize,
    returned: usize,
) -> (usize, usize) {
    let start = start_index.max(1).saturating_sub(first_total).max(1);
    (start, count.saturating_sub(returned))
}

/// `POST /.search`.
pub(super) async fn search(
    scope: Authorized,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let body = json_body(&req, body, state.limits.max_body_bytes).await?;
    let params = ListParams::from_search_body(&body, state.limits.max_results)?;
    check_filter_attributes(
        &params,
        &[&scope.view.user_schema, &scope.view.group_schema],
    )?;
    let asked = &params.request;
    let users = state.directory.list_users(&scope.realm, asked).await?;
    let (start_index, count) = second_request(
        asked.start_index,
        asked.count,
        users.total,
        users.resources.len(),
    );
    let groups_request = ListRequest {
        start_index,
        count,
        ..asked.clone()
    };
    let groups = state
        .directory
        .list_groups(&scope.realm, &groups_request)
        .await?;
    let resources = users
        .resources
        .iter()
        .map(|u| params.projection.apply(u, &scope.view.user_schema))
        .chain(
            groups
                .resources
                .iter()
                .map(|g| params.projection.apply(g, &scope.view.group_schema)),
        )
        .collect();
    let list = ListResponse::new(resources, users.total + groups.total, asked.start_index);
    Ok(scim_response(StatusCode::OK, &list.to_value()))
}

#[cfg(test)]
mod tests {
    use super::second_request;

    #[test]
    fn the_second_type_continues_where_the_first_ends() {
        // (startIndex, count, users total, users returned) -> groups (startIndex, count)
        let rows = [
            ((1, 10, 3, 3), (1, 7)),    // all users fit: groups from their first
            ((1, 10, 30, 10), (1, 0)),  // users fill the page: groups only counted
            ((25, 10, 30, 6), (1, 4)),  // the page straddles the two lists
            ((31, 10, 30, 0), (1, 10)), // past the users: groups from their first
            ((35, 10, 30, 0), (5, 10)), // further: groups from their fifth
            ((1, 0, 30, 0), (1, 0)),    // count=0: totals only
            ((0, 5, 0, 0), (1, 5)),     // startIndex below 1 counts as 1
        ];
        for ((start, count, total, returned), want) in rows {
            assert_eq!(
                second_request(start, count, total, returned),
                want,
                "start {start} count {count} users {total}/{returned}"
            );
        }
    }
}
