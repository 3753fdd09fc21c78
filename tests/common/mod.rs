//! Shared helpers of the integration tests. They run against the real
//! Keycloak that `make test` starts (`KC_TEST_URL`); every test makes its own
//! realm, so tests never see each other's data.
#![allow(dead_code)] // each test binary uses a different part

use kc_scim::bootstrap::{self, BootstrapOptions};
use kc_scim::config::Settings;
use kc_scim::keycloak::KcAdmin;

/// Base URL of the test Keycloak.
pub fn kc_url() -> String {
    std::env::var("KC_TEST_URL").unwrap_or_else(|_| {
        panic!(
            "KC_TEST_URL is not set: these tests need a real Keycloak; \
             run them with `make test`, which starts one"
        )
    })
}

/// Environment for a kc-scim process (or `Settings::load_from`) pointing at
/// the test Keycloak with its bootstrap admin.
pub fn kc_env() -> Vec<(String, String)> {
    let user = std::env::var("KC_TEST_ADMIN_USER").unwrap_or_else(|_| "admin".to_owned());
    let password = std::env::var("KC_TEST_ADMIN_PASSWORD").unwrap_or_else(|_| "admin".to_owned());
    vec![
        ("KCSCIM_KEYCLOAK__URL".to_owned(), kc_url()),
        ("KCSCIM_KEYCLOAK__USERNAME".to_owned(), user),
        ("KCSCIM_KEYCLOAK__PASSWORD".to_owned(), password),
    ]
}

/// Settings for the test Keycloak.
pub fn settings() -> Settings {
    Settings::load_from(None, kc_env()).expect("test settings load")
}

/// A fresh admin client (its own call counters).
pub fn admin() -> KcAdmin {
    let s = settings();
    KcAdmin::new(&s.keycloak, s.admin_credentials().expect("credentials")).expect("client")
}

/// A realm name no other test uses.
pub fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..10])
}

/// Creates a realm from the passwordless template and bootstraps it.
pub async fn fresh_realm(kc: &KcAdmin, prefix: &str) -> String {
    let realm = unique(prefix);
    let opts = BootstrapOptions {
        realm: realm.clone(),
        template: Some("passwordless".to_owned()),
        ..BootstrapOptions::default()
    };
    bootstrap::run(kc, &opts)
        .await
        .expect("bootstrap of a fresh realm");
    realm
}

/// Runs the kc-scim binary with exactly `env` as its KCSCIM_* environment.
pub fn kc_scim(args: &[&str], env: &[(String, String)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kc-scim"));
    for (key, _) in std::env::vars() {
        if key.starts_with("KCSCIM_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("kc-scim runs")
}
