//! kc-scim: a SCIM 2.0 service provider that runs as a sidecar beside
//! Keycloak. The modules, from the inside out:

/// Idempotent set-up steps for a realm.
pub mod bootstrap;
/// The command line.
pub mod cli;
/// Typed, layered settings.
pub mod config;
/// The Keycloak Admin REST client. Knows nothing of SCIM.
pub mod keycloak;
/// SCIM ⇄ Keycloak translation: the mapper table, per-realm settings. Pure.
pub mod mapping;
/// RFC 7643/7644: resources, schemas, filters, PATCH, errors. Pure.
#[path = "scim_stub.rs"]
pub mod scim;
/// The composition root: builds and runs the server.
pub mod startup;
/// Logging.
pub mod telemetry;
