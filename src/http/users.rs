//! `/Users`: thin handlers — authorize, parse, call the directory, respond.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::Value;

use super::request::{
    authorize, id_of, if_match, json_body, resource_response, scim_response, ListParams,
    Projection, Scope,
};
use super::{ApiError, AppState};
use crate::scim::{normalize_input, parse_patch_request, ListResponse, ScimError};

type Result = std::result::Result<HttpResponse, ApiError>;

async fn respond_list(state: &AppState, scope: &Scope, params: ListParams) -> Result {
    let page = state
        .directory
        .list_users(&scope.realm, &params.request)
        .await?;
    let schema = &scope.view.user_schema;
    let resources = page
        .resources
        .iter()
        .map(|r| params.projection.apply(r, schema))
        .collect();
    let list = ListResponse::new(resources, page.total, params.request.start_index);
    Ok(scim_response(StatusCode::OK, &list.to_value()))
}

/// `GET /Users`.
pub async fn list(req: HttpRequest, state: web::Data<AppState>) -> Result {
    let scope = authorize(&req, &state).await?;
    let params = ListParams::from_query(&req, state.limits.max_results)?;
    respond_list(&state, &scope, params).await
}

/// `POST /Users/.search`.
pub async fn search(req: HttpRequest, body: web::Payload, state: web::Data<AppState>) -> Result {
    let scope = authorize(&req, &state).await?;
    let body = json_body(&req, body, state.limits.max_body_bytes).await?;
    let params = ListParams::from_search_body(&body, state.limits.max_results)?;
    respond_list(&state, &scope, params).await
}

/// `GET /Users/{id}`.
pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> Result {
    let scope = authorize(&req, &state).await?;
    let projection = Projection::from_query(&req)?;
    let with_groups = projection.requests("groups");
    let user = state
        .directory
        .get_user(&scope.realm, &id_of(&req), with_groups)
        .await?;
    let body = projection.apply(&user, &scope.view.user_schema);
    Ok(resource_response(StatusCode::OK, &user, &body))
}

/// `POST /Users`.
pub async fn create(req: HttpRequest, body: web::Payload, state: web::Data<AppState>) -> Result {
    let scope = authorize(&req, &state).await?;
    let raw = json_body(&req, body, state.limits.max_body_bytes).await?;
    let input = normalize_input(&raw, &scope.view.user_input_schema)?;
    let _span = tracing::info_span!("scim", realm = %scope.realm, op = "create_user").entered();
    let user = state.directory.create_user(&scope.realm, &input).await;
    audit(
        &scope,
        "create_user",
        user.as_ref().ok().and_then(id_in),
        &user,
    );
    let user = user?;
    let body = Projection::from_query(&req)?.apply(&user, &scope.view.user_schema);
    Ok(resource_response(StatusCode::CREATED, &user, &body))
}

/// `PUT /Users/{id}`.
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
    let input = normalize_input(&raw, &scope.view.user_input_schema)?;
    let user = state
        .directory
        .replace_user(&scope.realm, &id, &input, if_match(&req).as_deref())
        .await;
    audit(&scope, "replace_user", Some(&id), &user);
    let user = user?;
    let body = Projection::from_query(&req)?.apply(&user, &scope.view.user_schema);
    Ok(resource_response(StatusCode::OK, &user, &body))
}

/// `PATCH /Users/{id}`.
pub async fn patch(req: HttpRequest, body: web::Payload, state: web::Data<AppState>) -> Result {
    let scope = authorize(&req, &state).await?;
    let id = id_of(&req);
    let raw = json_body(&req, body, state.limits.max_body_bytes).await?;
    let patch = parse_patch_request(&raw)?;
    let user = state
        .directory
        .patch_user(&scope.realm, &id, &patch, if_match(&req).as_deref())
        .await;
    audit(&scope, "patch_user", Some(&id), &user);
    let user = user?;
    let body = Projection::from_query(&req)?.apply(&user, &scope.view.user_schema);
    Ok(resource_response(StatusCode::OK, &user, &body))
}

/// `DELETE /Users/{id}`.
pub async fn delete(req: HttpRequest, state: web::Data<AppState>) -> Result {
    let scope = authorize(&req, &state).await?;
    let id = id_of(&req);
    let done = state
        .directory
        .delete_user(&scope.realm, &id, if_match(&req).as_deref())
        .await;
    audit(&scope, "delete_user", Some(&id), &done);
    done?;
    Ok(HttpResponse::NoContent().finish())
}

fn id_in(v: &Value) -> Option<&str> {
    v.get("id").and_then(Value::as_str)
}

/// One structured audit event per SCIM write (never a secret).
pub fn audit<T, E: std::fmt::Display>(
    scope: &Scope,
    operation: &str,
    id: Option<&str>,
    outcome: &std::result::Result<T, E>,
) {
    let result = match outcome {
        Ok(_) => "success".to_owned(),
        Err(e) => format!("failure: {e}"),
    };
    tracing::info!(
        target: "audit",
        realm = %scope.realm,
        operation,
        resource_id = id.unwrap_or("-"),
        outcome = %result,
        credential_kind = scope.credential.kind(),
        credential_id = scope.credential.id(),
        "scim write"
    );
}
