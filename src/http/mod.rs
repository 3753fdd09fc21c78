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
///
/// One resource per path, its methods as routes and the 405 answer last:
/// the router matches a request's path once per resource, so a route per
/// method would run each dynamic path's regex once per method.
pub fn configure(cfg: &mut web::ServiceConfig, state: web::Data<AppState>) {
    use discovery::not_allowed;
    cfg.app_data(state)
        .route("/healthz", web::get().to(discovery::healthz))
        .route("/readyz", web::get().to(discovery::readyz))
        .route("/metrics", web::get().to(metrics::render))
        .service(
            web::scope("/realms/{realm}/scim/v2")
                .service(
                    web::resource("/ServiceProviderConfig")
                        .route(web::get().to(discovery::service_provider_config))
                        .route(not_allowed("GET")),
                )
                .service(
                    web::resource("/ResourceTypes")
                        .route(web::get().to(discovery::resource_types))
                        .route(not_allowed("GET")),
                )
                .service(
                    web::resource("/ResourceTypes/{name}")
                        .route(web::get().to(discovery::resource_type))
                        .route(not_allowed("GET")),
                )
                .service(
                    web::resource("/Schemas")
                        .route(web::get().to(discovery::schemas))
                        .route(not_allowed("GET")),
                )
                .service(
                    web::resource("/Schemas/{id}")
                        .route(web::get().to(discovery::schema))
                        .route(not_allowed("GET")),
                )
                .service(
                    web::resource("/.search")
                        .route(web::post().to(search::search))
                        .route(not_allowed("POST")),
                )
                .service(
                    web::resource("/Users")
                        .route(web::get().to(users::list))
                        .route(web::post().to(users::create))
                        .route(not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/Users/.search")
                        .route(web::post().to(users::search))
                        .route(not_allowed("POST")),
                )
                .service(
                    web::resource("/Users/{id}")
                        .route(web::get().to(users::get))
                        .route(web::put().to(users::replace))
                        .route(web::patch().to(users::patch))
                        .route(web::delete().to(users::delete))
                        .route(not_allowed("GET, PUT, PATCH, DELETE")),
                )
                .service(
                    web::resource("/Groups")
                        .route(web::get().to(groups::list))
                        .route(web::post().to(groups::create))
                        .route(not_allowed("GET, POST")),
                )
                .service(
                    web::resource("/Groups/.search")
                        .route(web::post().to(groups::search))
                        .route(not_allowed("POST")),
                )
                .service(
                    web::resource("/Groups/{id}")
                        .route(web::get().to(groups::get))
                        .route(web::put().to(groups::replace))
                        .route(web::patch().to(groups::patch))
                        .route(web::delete().to(groups::delete))
                        .route(not_allowed("GET, PUT, PATCH, DELETE")),
                )
                .default_service(web::to(discovery::no_such_endpoint)),
        )
        .default_service(web::to(discovery::no_such_endpoint));
}
