//! `/Groups`: thin handlers — authorize, parse, call the directory, respond.
//! `excludedAttributes=members` reaches the directory as "do not load
//! members", so large groups are listed and looked up cheaply.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::request::{
    authorize, id_of, if_match, json_body, resource_response, scim_response, ListParams,
    Projection, Scope,
};
use super::users::audit;
use super::{ApiError, AppState};
use crate::scim::{normalize_input, parse_patch_request, ListResponse, ScimError};

type Result = std::result::Result<HttpResponse, ApiError>;

async fn respond_list(state: &AppState, scope: &Scope, params: ListParams) -> Result {
    let page = state
        .directory
        .list_groups(&scope.realm, &params.request)
        .await?;
    let schema = &scope.view.group_schema;
    let resources = page
        .resources
        .iter()
        .map(|r| params.projection.apply(r, schema))
        .collect();
    let list = ListResponse::new(resources, page.total, params.request.start_index);
    Ok(scim_response(StatusCode::OK, &list.to_value()))
}

/// `GET /Groups`.
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result {
    let scope = authorize(&req, &state).await?;
    let params = ListParams::from_query(&req, state.limits.max_results)?;
    respond_list(&state, &scope, params).await
}

/// `POST /Groups/.search`.
pub async fn search(req: HttpRequest, body: web::Payload, state: web::Data<AppState>) -> Result {
    let scope = authorize(&req, &state).await?;
    let body = json_body(&req, body, state.limits.max_body_bytes).await?;
    let params = ListParams::from_search_body(&body, state.limits.max_results)?;
    respond_list(&state, &scope, params).await
}

/// `GET /Groups/{id}`.
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result {
    let scope = authorize(&req, &state).await?;
    let projection = Projection::from_query(&req)?;
    let group = state
        .directory
        .get_group(&scope.realm, &id_of(&req), !projection.excludes("members"))
        .await?;
    let body = projection.apply(&group, &scope.view.group_schema);
    Ok(resource_response(StatusCode::OK, &group, &body))
}

/// `POST /Groups`.
pub async fn create(req: HttpRequest, body: web::Payload, state: web::Data<AppState>) -> Result {
    let scope = authorize(&req, &state).await?;
    let raw = json_body(&req, body, state.limits.max_body_bytes).await?;
    let input = normalize_input(&raw, &scope.view.group_schema)?;
    let group = state.directory.create_group(&scope.realm, &input).await;
    audit(
        &scope,
        "create_group",
        group.as_ref().ok().and_then(id_in),
        &group,
    );
    let group = group?;
    let body = Projection::from_query(&req)?.apply(&group, &scope.view.group_schema);
    Ok(resource_response(StatusCode::CREATED, &group, &body))
}

/// `PUT /Groups/{id}`.
pub async fn replace(req: HttpRequest, body: web::Payload, state: web::Data<AppState>) -> Result {
    let scope = authorize(&req, &state).await?;
    let id = id_of(&req);
    let raw = json_body(&req, body, state.limits.max_body_bytes).await?;
    if let Some(sent) = raw.get("id").and_then(Value::as_str) {
        if sent != id {
            return Err(ScimError::mutability(format!(
                "id is readOnly: the body says {sent:?}, the URL {id:?}"
            ))
            .into());
        }
    }
    let input = normalize_input(&raw, &scope.view.group_schema)?;
    let group = state
        .directory
        .replace_group(&scope.realm, &id, &input, if_match(&req).as_deref())
        .await;
    audit(&scope, "replace_group", Some(&id), &group);
    let group = group?;
    let body = Projection::from_query(&req)?.apply(&group, &scope.view.group_schema);
    Ok(resource_response(StatusCode::OK, &group, &body))
}

/// `PATCH /Groups/{id}`: 204 No Content (RFC 7644 §3.5.2 allows it, and it
/// spares re-reading every member of a large group).
pub async fn patch(req: HttpRequest, body: web::Payload, state: web::Data<AppState>) -> Result {
    let scope = authorize(&req, &state).await?;
    let id = id_of(&req);
    let raw = json_body(&req, body, state.limits.max_body_bytes).await?;
    let patch = parse_patch_request(&raw)?;
    let done = state
        .directory
        .patch_group(&scope.realm, &id, &patch, if_match(&req).as_deref())
        .await;
    audit(&scope, "patch_group", Some(&id), &done);
    done?;
    Ok(HttpResponse::NoContent().finish())
}

/// `DELETE /Groups/{id}`.
pub async fn delete(req: HttpRequest, state: web::Data<AppState>) -> Result {
    let scope = authorize(&req, &state).await?;
    let id = id_of(&req);
    let done = state
        .directory
        .delete_group(&scope.realm, &id, if_match(&req).as_deref())
        .await;
    audit(&scope, "delete_group", Some(&id), &done);
    done?;
    Ok(HttpResponse::NoContent().finish())
}

fn id_in(v: &Value) -> Option<&str> {
    v.get("id").and_then(Value::as_str)
}
