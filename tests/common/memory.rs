//! An app state over the in-memory directory with one static token, for the
//! handler tests that need no Keycloak.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use kc_scim::auth::{new_static_token, Authenticator, AuthenticatorOptions, JwksTiming};
use kc_scim::directory::MemoryDirectory;
use kc_scim::http::{AppState, Limits};
use kc_scim::mapping::RealmScimSettings;

/// The state of realm `acme` in memory, and its token's secret.
pub(crate) fn state() -> (web::Data<AppState>, String) {
    let (stored, secret) = new_static_token(chrono::Utc::now(), None);
    let settings = RealmScimSettings {
        tokens: vec![stored],
        ..RealmScimSettings::default()
    };
    let auth = Authenticator::new(
        &reqwest::Client::new(),
        AuthenticatorOptions {
            entra_jwks_url: "http://127.0.0.1:9/keys".to_owned(),
            keycloak_url: "http://127.0.0.1:9".to_owned(),
            public_url: "http://127.0.0.1:9".to_owned(),
            clock_skew: Duration::from_secs(60),
            jwks: JwksTiming {
                min_refetch: Duration::from_secs(10),
                max_age: Duration::from_secs(3600),
            },
        },
    );
    let data = web::Data::new(AppState {
        directory: Arc::new(MemoryDirectory::new(&["acme"], &settings)),
        auth: Arc::new(auth),
        limits: Limits {
            max_results: 50,
            max_body_bytes: 4096,
        },
    });
    (data, secret)
}
