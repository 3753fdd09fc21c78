//! Discovery (`ServiceProviderConfig`, `ResourceTypes`, `Schemas`), health
//! and the SCIM 404 for unknown paths. Discovery documents are generated from
//! the realm's own schema, so they list only what round-trips.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;

use super::authorized::Authorized;
use super::request::scim_response;
use super::{ApiError, AppState};
use crate::scim::schema::{
    resource_type_document, schema_documents, service_provider_config as spc_document,
};
use crate::scim::{ListResponse, ScimError};

type Result = std::result::Result<HttpResponse, ApiError>;

/// `GET /healthz`: the process is up.
pub(super) async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// `GET /readyz`: Keycloak reachable and the admin token valid.
pub(super) async fn readyz(state: web::Data<AppState>) -> Result {
    state.directory.ready().await?;
    Ok(HttpResponse::Ok().content_type("text/plain").body("ready"))
}

/// Any path that is not an endpoint.
pub(super) async fn no_such_endpoint(req: HttpRequest) -> HttpResponse {
    let err = ScimError::not_found(format!("no SCIM endpoint at {}", req.path()));
    scim_response(StatusCode::NOT_FOUND, &err.body())
}

/// A method the endpoint does not serve, for an authorised caller: 405 with
/// a SCIM body and `Allow` (RFC 7231 §6.5.5). The credential is checked
/// first, so an unauthenticated caller learns nothing beyond a 401.
pub(super) fn not_allowed(allow: &'static str) -> actix_web::Route {
    web::route().to(move |_scope: Authorized, req: HttpRequest| async move {
        let err = ScimError::new(
            405,
            None,
            format!(
                "{} is not allowed on {}; allowed: {allow}",
                req.method(),
                req.path()
            ),
        );
        let mut reply = scim_response(StatusCode::METHOD_NOT_ALLOWED, &err.body());
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(allow) {
            reply
                .headers_mut()
                .insert(actix_web::http::header::ALLOW, value);
        }
        reply
    })
}

/// `GET /ServiceProviderConfig`.
pub(super) async fn service_provider_config(
    scope: Authorized,
    state: web::Data<AppState>,
) -> Result {
    let doc = spc_document(
        &scope.view.base_url,
        u32::try_from(state.limits.max_results).unwrap_or(u32::MAX),
        u64::try_from(state.limits.max_body_bytes).unwrap_or(u64::MAX),
        true,
    );
    Ok(scim_response(StatusCode::OK, &doc))
}

fn resource_types_of(scope: &Authorized) -> Vec<serde_json::Value> {
    vec![
        resource_type_document(
            "User",
            "/Users",
            &scope.view.user_schema,
            &scope.view.base_url,
        ),
        resource_type_document(
            "Group",
            "/Groups",
            &scope.view.group_schema,
            &scope.view.base_url,
        ),
    ]
}

/// `GET /ResourceTypes`.
pub(super) async fn resource_types(scope: Authorized) -> Result {
    let docs = resource_types_of(&scope);
    let total = docs.len();
    Ok(scim_response(
        StatusCode::OK,
        &ListResponse::new(docs, total, 1).to_value(),
    ))
}

/// `GET /ResourceTypes/{name}`.
pub(super) async fn resource_type(scope: Authorized, req: HttpRequest) -> Result {
    let name = req.match_info().get("name").unwrap_or_default();
    resource_types_of(&scope)
        .into_iter()
        .find(|d| d["id"] == json!(name))
        .map(|d| scim_response(StatusCode::OK, &d))
        .ok_or_else(|| ScimError::not_found(format!("no resource type {name:?}")).into())
}

fn schemas_of(scope: &Authorized) -> Vec<serde_json::Value> {
    schema_documents(
        &[&scope.view.user_schema, &scope.view.group_schema],
        &scope.view.base_url,
    )
}

/// `GET /Schemas`.
pub(super) async fn schemas(scope: Authorized) -> Result {
    let docs = schemas_of(&scope);
    let total = docs.len();
    Ok(scim_response(
        StatusCode::OK,
        &ListResponse::new(docs, total, 1).to_value(),
    ))
}

/// `GET /Schemas/{id}`.
pub(super) async fn schema(scope: Authorized, req: HttpRequest) -> Result {
    let id = req.match_info().get("id").unwrap_or_default();
    schemas_of(&scope)
        .into_iter()
        .find(|d| d["id"] == json!(id))
        .map(|d| scim_response(StatusCode::OK, &d))
        .ok_or_else(|| ScimError::not_found(format!("no schema {id:?}")).into())
}
