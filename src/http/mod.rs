//! actix-web routes for `/realms/{realm}/scim/v2/*`: authentication (the
//! [`Authorized`] extractor), content types, body limits, query parsing,
//! projection, the one place where errors become responses
//! ([`error::ApiError`]) and the request span that logs and counts each
//! request once ([`span`]). Handlers are thin: extract, call the
//! [`Directory`](crate::directory::Directory) port, respond.
//!
//! Invariant: this module never talks to Keycloak or the mapping directly;
//! every response body is SCIM JSON with `Content-Type: application/scim+json`.

mod authorized;
mod discovery;
pub mod error;
mod groups;
mod metrics;
mod request;
mod search;
pub mod span;
mod users;

use std::sync::Arc;

use actix_web::web;

use crate::directory::Directory;

pub use authorized::Authorized;
pub use error::ApiError;
pub use span::{echo_request_id, request_logger};

/// The SCIM media type.
pub const SCIM_JSON: &str = "application/scim+json";

/// Limits applied to requests.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest `count` honoured.
    pub max_results: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
}

/// Shared state of the HTTP layer.
pub struct AppState {
    /// The directory port.
    pub directory: Arc<dyn Directory>,
    /// Bearer verification and its key caches.
    pub auth: Arc<crate::auth::Authenticator>,
    /// Request limits.
    pub limits: Limits,
}

/// Mounts every route. Tests build the same app with this function; the
/// composition root wraps it in [`request_logger`] and [`echo_request_id`].
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    cfg.app_data(state)
        .route("/healthz", web::get().to(discovery::healthz))
        .route("/readyz", web::get().to(discovery::readyz))
        .route("/metrics", web::get().to(metrics::render))
        .service(
            web::scope("/realms/{realm}/scim/v2")
                .route(
                    "/ServiceProviderConfig",
                    web::get().to(discovery::service_provider_config),
                )
                .route("/ServiceProviderConfig", discovery::not_allowed("GET"))
                .route("/ResourceTypes", web::get().to(discovery::resource_types))
                .route("/ResourceTypes", discovery::not_allowed("GET"))
                .route(
                    "/ResourceTypes/{name}",
                    web::get().to(discovery::resource_type),
                )
                .route("/ResourceTypes/{name}", discovery::not_allowed("GET"))
                .route("/Schemas", web::get().to(discovery::schemas))
                .route("/Schemas", discovery::not_allowed("GET"))
                .route("/Schemas/{id}", web::get().to(discovery::schema))
                .route("/Schemas/{id}", discovery::not_allowed("GET"))
                .route("/.search", web::post().to(search::search))
                .route("/.search", discovery::not_allowed("POST"))
                .route("/Users", web::get().to(users::list))
                .route("/Users", web::post().to(users::create))
                .route("/Users", discovery::not_allowed("GET, POST"))
                .route("/Users/.search", web::post().to(users::search))
                .route("/Users/.search", discovery::not_allowed("POST"))
                .route("/Users/{id}", web::get().to(users::get))
                .route("/Users/{id}", web::put().to(users::replace))
                .route("/Users/{id}", web::patch().to(users::patch))
                .route("/Users/{id}", web::delete().to(users::delete))
                .route(
                    "/Users/{id}",
                    discovery::not_allowed("GET, PUT, PATCH, DELETE"),
                )
                .route("/Groups", web::get().to(groups::list))
                .route("/Groups", web::post().to(groups::create))
                .route("/Groups", discovery::not_allowed("GET, POST"))
                .route("/Groups/.search", web::post().to(groups::search))
                .route("/Groups/.search", discovery::not_allowed("POST"))
                .route("/Groups/{id}", web::get().to(groups::get))
                .route("/Groups/{id}", web::put().to(groups::replace))
                .route("/Groups/{id}", web::patch().to(groups::patch))
                .route("/Groups/{id}", web::delete().to(groups::delete))
                .route(
                    "/Groups/{id}",
                    discovery::not_allowed("GET, PUT, PATCH, DELETE"),
                )
                .default_service(web::to(discovery::no_such_endpoint)),
        )
        .default_service(web::to(discovery::no_such_endpoint));
}
