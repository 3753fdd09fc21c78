//! `/Groups`: thin handlers — extract (the [`Authorized`] scope first), parse, call the directory, respond.
//! `excludedAttributes=members` reaches the directory as "do not load
//! members", so large groups are listed and looked up cheaply.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::authorized::Authorized;
use super::request::{
    audit, check_filter_attributes, check_put_id, id_of, if_match, json_body, list_response,
    resource_reply, ListParams, Projection,
};
use super::{ApiError, AppState};
use crate::scim::path::get_ci;
use crate::scim::{normalize_input, parse_patch_request, ScimError};

type Result = std::result::Result<HttpResponse, ApiError>;

async fn respond_list(state: &AppState, scope: &Authorized, params: &ListParams) -> Result {
    check_filter_attributes(params, &[&scope.view.group_schema])?;
    let page = state
        .directory
        .list_groups(&scope.realm, &params.request)
        .await?;
    Ok(list_response(&page, params, &scope.view.group_schema))
}

/// `GET /Groups`.
pub(super) async fn list(
    scope: Authorized,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result {
    let params = ListParams::from_query(&req, state.limits.max_results)?;
    respond_list(&state, &scope, &params).await
}

/// `POST /Groups/.search`.
pub(super) async fn search(
    scope: Authorized,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result {
    let body = json_body(&req, body, state.limits.max_body_bytes).await?;
    let params = ListParams::from_search_body(&body, state.limits.max_results)?;
    respond_list(&state, &scope, &params).await
}

/// `GET /Groups/{id}`.
pub(super) async fn get(scope: Authorized, req: HttpRequest, state: web::Data<AppState>) -> Result {
    let with_members = !Projection::from_query(&req)?.excludes("members");
    let group = state
        .directory
        .get_group(&scope.realm, &id_of(&req), with_members)
        .await?;
    resource_reply(&req, StatusCode::OK, &group, &scope.view.group_schema)
}

/// Most member values one request may name: each costs Keycloak calls under
/// one in-flight permit (a 1 MiB body holds about 25,000 ids). Larger
/// membership changes go as several PATCH requests, as Entra sends them.
pub(super) const MAX_MEMBERS_PER_REQUEST: usize = 1_000;

/// The member values a group body (`members`) or a `PatchOp` body (every
/// operation on `members`, with or without a path) names.
fn member_values(body: &Value) -> usize {
    let count = |v: Option<&Value>| match v {
        Some(Value::Array(items)) => items.len(),
        Some(Value::Null) | None => 0,
        Some(_) => 1,
    };
    let Some(obj) = body.as_object() else {
        return 0;
    };
    let direct = count(get_ci(obj, "members"));
    let ops = match get_ci(obj, "Operations") {
        Some(Value::Array(ops)) => ops.as_slice(),
        _ => &[],
    };
    let in_ops: usize = ops
        .iter()
        .filter_map(Value::as_object)
        .map(|op| {
            let path = get_ci(op, "path")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let value = get_ci(op, "value");
            if path.trim().to_ascii_lowercase().starts_with("members") {
                count(value).max(1)
            } else if path.trim().is_empty() {
                value
                    .and_then(Value::as_object)
                    .map_or(0, |v| count(get_ci(v, "members")))
            } else {
                0
            }
        })
        .sum();
    direct + in_ops
}

fn check_member_count(body: &Value) -> std::result::Result<(), ScimError> {
    let n = member_values(body);
    if n > MAX_MEMBERS_PER_REQUEST {
        return Err(ScimError::invalid_value(format!(
            "the request names {n} members; at most {MAX_MEMBERS_PER_REQUEST} per request \
             (send larger membership changes as several PATCH requests)"
        )));
    }
    Ok(())
}

/// `POST /Groups`.
pub(super) async fn create(
    scope: Authorized,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result {
    let raw = json_body(&req, body, state.limits.max_body_bytes).await?;
    check_member_count(&raw)?;
    let input = normalize_input(&raw, &scope.view.group_schema)?;
    let group = state.directory.create_group(&scope.realm, &input).await;
    audit(&scope, "create_group", None, &group);
    resource_reply(&req, StatusCode::CREATED, &group?, &scope.view.group_schema)
}

/// `PUT /Groups/{id}`.
pub(super) async fn replace(
    scope: Authorized,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result {
    let id = id_of(&req);
    let raw = json_body(&req, body, state.limits.max_body_bytes).await?;
    check_put_id(&raw, &id)?;
    check_member_count(&raw)?;
    let input = normalize_input(&raw, &scope.view.group_schema)?;
    let group = state
        .directory
        .replace_group(&scope.realm, &id, &input, if_match(&req).as_deref())
        .await;
    audit(&scope, "replace_group", Some(&id), &group);
    resource_reply(&req, StatusCode::OK, &group?, &scope.view.group_schema)
}

/// `PATCH /Groups/{id}`: 204 No Content (RFC 7644 §3.5.2 allows it, and it
/// spares re-reading every member of a large group).
pub(super) async fn patch(
    scope: Authorized,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result {
    let id = id_of(&req);
    let raw = json_body(&req, body, state.limits.max_body_bytes).await?;
    check_member_count(&raw)?;
    let patch = parse_patch_request(&raw)?;
    let done = state
        .directory
        .patch_group(&scope.realm, &id, &patch, if_match(&req).as_deref())
        .await
        .map(|()| Value::Null);
    audit(&scope, "patch_group", Some(&id), &done);
    done?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /Groups/{id}`.
pub(super) async fn delete(
    scope: Authorized,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result {
    let id = id_of(&req);
    let done = state
        .directory
        .delete_group(&scope.realm, &id, if_match(&req).as_deref())
        .await
        .map(|()| Value::Null);
    audit(&scope, "delete_group", Some(&id), &done);
    done?;
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ids(n: usize) -> Vec<Value> {
        (0..n).map(|i| json!({"value": format!("u{i}")})).collect()
    }

    #[test]
    fn member_values_are_counted_in_every_form_a_request_names_them() {
        let cases = [
            (json!({"displayName": "g", "members": ids(3)}), 3),
            (
                json!({"Operations": [{"op": "add", "path": "members", "value": ids(2)}]}),
                2,
            ),
            (
                json!({"Operations": [{"op": "remove", "path": "members[value eq \"u1\"]"}]}),
                1,
            ),
            (
                json!({"Operations": [{"op": "replace", "value": {"members": ids(4)}}]}),
                4,
            ),
            (
                json!({"Operations": [
                    {"op": "Add", "path": "Members", "value": ids(2)},
                    {"op": "replace", "path": "displayName", "value": "x"}
                ]}),
                2,
            ),
            (json!({"displayName": "g"}), 0),
        ];
        for (body, expected) in cases {
            assert_eq!(member_values(&body), expected, "{body}");
        }
    }

    #[test]
    fn more_members_than_the_cap_are_refused() {
        let over = json!({"members": ids(MAX_MEMBERS_PER_REQUEST + 1)});
        assert!(check_member_count(&over).is_err());
        let at = json!({"members": ids(MAX_MEMBERS_PER_REQUEST)});
        assert!(check_member_count(&at).is_ok());
    }
}
