//! kc-scim: a SCIM 2.0 service provider that runs as a sidecar beside
//! Keycloak. The modules, from the inside out (docs/architecture.md has the
//! request path and the invariants):

/// `RealmName`, validated once at the edge. A leaf.
pub mod realm;
/// RFC 7643/7644: resources, schemas, filters, PATCH, errors. Pure.
pub mod scim;
/// The Keycloak Admin REST client. Knows nothing of SCIM.
pub mod keycloak;
/// SCIM ⇄ Keycloak translation: the mapper table, per-realm settings. Pure.
pub mod mapping;
/// The one owner of a realm's stored SCIM settings (load, update).
pub mod settings_store;
/// The use cases behind one port, on Keycloak (and in memory for tests).
pub mod directory;
/// Bearer credential verification.
pub mod auth;
/// actix-web routes, content types, limits, error responses.
pub mod http;
/// Idempotent set-up steps for a realm.
pub mod bootstrap;
/// Typed, layered settings.
pub mod config;
/// Logging.
pub mod telemetry;
/// The composition root: builds and runs the server.
pub mod startup;
/// The command line.
pub mod cli;
/// `kc-scim doctor`: the setup checklist, executable.
pub mod doctor;
/// The admin page ("Integrations → SCIM") of each realm, signed in through it.
pub mod admin;
