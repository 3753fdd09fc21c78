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
use crate::scim::{normalize_input, parse_patch_request};

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

/// `POST /Groups`.
pub(super) async fn create(
    scope: Authorized,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result {
    let raw = json_body(&req, body, state.limits.max_body_bytes).await?;
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
