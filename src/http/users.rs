//! `/Users`: thin handlers — extract (the [`Authorized`] scope first), parse, call the directory, respond.

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
    check_filter_attributes(params, &[&scope.view.user_schema])?;
    let page = state
        .directory
        .list_users(&scope.realm, &params.request)
        .await?;
    Ok(list_response(&page, params, &scope.view.user_schema))
}

/// `GET /Users`.
pub(super) async fn list(
    scope: Authorized,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result {
    let params = ListParams::from_query(&req, state.limits.max_results)?;
    respond_list(&state, &scope, &params).await
}

/// `POST /Users/.search`.
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

/// `GET /Users/{id}`.
pub(super) async fn get(scope: Authorized, req: HttpRequest, state: web::Data<AppState>) -> Result {
    let with_groups = Projection::from_query(&req)?.requests("groups");
    let user = state
        .directory
        .get_user(&scope.realm, &id_of(&req), with_groups)
        .await?;
    resource_reply(&req, StatusCode::OK, &user, &scope.view.user_schema)
}

/// `POST /Users`.
pub(super) async fn create(
    scope: Authorized,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result {
    let raw = json_body(&req, body, state.limits.max_body_bytes).await?;
    let input = normalize_input(&raw, &scope.view.user_input_schema)?;
    let user = state.directory.create_user(&scope.realm, &input).await;
    audit(&scope, "create_user", None, &user);
    resource_reply(&req, StatusCode::CREATED, &user?, &scope.view.user_schema)
}

/// `PUT /Users/{id}`.
pub(super) async fn replace(
    scope: Authorized,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result {
    let id = id_of(&req);
    let raw = json_body(&req, body, state.limits.max_body_bytes).await?;
    check_put_id(&raw, &id)?;
    let input = normalize_input(&raw, &scope.view.user_input_schema)?;
    let user = state
        .directory
        .replace_user(&scope.realm, &id, &input, if_match(&req).as_deref())
        .await;
    audit(&scope, "replace_user", Some(&id), &user);
    resource_reply(&req, StatusCode::OK, &user?, &scope.view.user_schema)
}

/// `PATCH /Users/{id}`.
pub(super) async fn patch(
    scope: Authorized,
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> Result {
    let id = id_of(&req);
    let raw = json_body(&req, body, state.limits.max_body_bytes).await?;
    let patch = parse_patch_request(&raw)?;
    let user = state
        .directory
        .patch_user(&scope.realm, &id, &patch, if_match(&req).as_deref())
        .await;
    audit(&scope, "patch_user", Some(&id), &user);
    resource_reply(&req, StatusCode::OK, &user?, &scope.view.user_schema)
}

/// `DELETE /Users/{id}`.
pub(super) async fn delete(
    scope: Authorized,
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result {
    let id = id_of(&req);
    let done = state
        .directory
        .delete_user(&scope.realm, &id, if_match(&req).as_deref())
        .await
        .map(|()| Value::Null);
    audit(&scope, "delete_user", Some(&id), &done);
    done?;
    Ok(HttpResponse::NoContent().finish())
}
