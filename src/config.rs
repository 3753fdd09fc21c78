//! Typed, layered settings: defaults → `--config FILE` → `KCSCIM_*`
//! environment (`__` for nesting). Unknown keys are rejected at every level,
//! and secrets live in `secrecy` types so they never reach a log line or the
//! output of `check-config`. The doc comment on each field is the
//! configuration reference (docs/configuration.md mirrors it).

use std::fmt::Write as _;
use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

/// Every setting of the service.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// How to reach Keycloak and authenticate to its Admin API.
    pub keycloak: KeycloakSettings,
    /// The SCIM HTTP listener.
    pub http: HttpSettings,
    /// Realms whose SCIM setup is ensured at start-up of `serve`, and the
    /// only realms it serves when set (comma-separated in the environment:
    /// `KCSCIM_REALMS=a,b`). Unset: every realm set up and enabled for SCIM.
    #[serde(deserialize_with = "comma_list")]
    pub realms: Vec<String>,
    /// Bearer credential verification.
    pub auth: AuthSettings,
    /// SCIM protocol limits.
    pub scim: ScimSettings,
    /// The mass-deprovision circuit breaker.
    pub deprovision: DeprovisionSettings,
    /// The admin page (`/realms/{realm}/scim/admin/`).
    pub admin: AdminPageSettings,
    /// Logging.
    pub log: LogSettings,
}

/// Connection to Keycloak.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeycloakSettings {
    /// Base URL of Keycloak as the sidecar reaches it (Admin API and token endpoint).
    pub url: String,
    /// Base URL of Keycloak as clients see it (token issuer, Tenant URL). Defaults to `url`.
    pub public_url: Option<String>,
    /// Realm the admin credentials belong to.
    pub admin_realm: String,
    /// Client id for the client-credentials grant (preferred).
    pub client_id: Option<String>,
    /// Client secret for the client-credentials grant.
    #[serde(serialize_with = "redact")]
    pub client_secret: Option<SecretString>,
    /// Admin username for the password grant on `admin-cli`.
    pub username: Option<String>,
    /// Admin password for the password grant on `admin-cli`.
    #[serde(serialize_with = "redact")]
    pub password: Option<SecretString>,
    /// Timeout of one Admin API call, in milliseconds.
    pub timeout_ms: u64,
    /// Timeout for opening a connection to Keycloak, in milliseconds.
    pub connect_timeout_ms: u64,
}

impl Default for KeycloakSettings {
    fn default() -> Self {
        Self {
            url: "http://127.0.0.1:8080".to_owned(),
            public_url: None,
            admin_realm: "master".to_owned(),
            client_id: None,
            client_secret: None,
            username: None,
            password: None,
            timeout_ms: 10_000,
            connect_timeout_ms: 2_000,
        }
    }
}

impl KeycloakSettings {
    /// The issuer base URL clients see.
    #[must_use]
    pub fn public_url(&self) -> &str {
        self.public_url
            .as_deref()
            .unwrap_or(&self.url)
            .trim_end_matches('/')
    }
}

/// The SCIM listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Address and port to listen on.
    pub bind: String,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Worker threads (0 = one per core).
    pub workers: usize,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self {
            bind: "127.0.0.1:8090".to_owned(),
            max_body_bytes: 1024 * 1024,
            workers: 0,
        }
    }
}

/// Bearer credential verification.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Where Entra's signing keys are published.
    pub entra_jwks_url: String,
    /// Allowed clock skew for `exp` / `nbf`, in seconds.
    pub clock_skew_secs: u64,
    /// Least time between two fetches of one signing-key set (Entra's or a
    /// realm's), in seconds: a token with an unknown `kid` refetches at most
    /// this often.
    pub jwks_min_refetch_secs: u64,
    /// A signing-key set older than this is refetched, in seconds.
    pub jwks_max_age_secs: u64,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            entra_jwks_url: "https://login.microsoftonline.com/common/discovery/v2.0/keys"
                .to_owned(),
            clock_skew_secs: 60,
            jwks_min_refetch_secs: 10,
            jwks_max_age_secs: 3600,
        }
    }
}

/// SCIM protocol limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScimSettings {
    /// Largest `count` a list request may ask for.
    pub max_results: usize,
    /// Most candidate users a filtered list may read before `tooMany`: the
    /// whole realm when no term can be pushed down, else the hits of the
    /// pushed Keycloak search (or searches, together).
    pub max_scan: usize,
    /// How long the per-realm mapper table and settings are cached, in seconds.
    pub cache_ttl_secs: u64,
    /// Most SCIM operations one realm may have in flight against Keycloak.
    pub max_in_flight_per_realm: usize,
    /// How long a request waits for a free slot before it is answered 429.
    pub queue_wait_ms: u64,
    /// How often the set of served realms is re-read from Keycloak, in
    /// seconds: a realm enabled or disabled elsewhere is followed within it.
    pub realm_refresh_secs: u64,
    /// How long the link of a passkey onboarding email stays valid, in
    /// seconds (realms with `kcscim.onboarding = email`).
    pub onboarding_lifespan_secs: u64,
}

impl Default for ScimSettings {
    fn default() -> Self {
        Self {
            max_results: 200,
            max_scan: 5_000,
            cache_ttl_secs: 30,
            max_in_flight_per_realm: 64,
            queue_wait_ms: 2_000,
            realm_refresh_secs: 30,
            onboarding_lifespan_secs: 43_200,
        }
    }
}

/// The mass-deprovision circuit breaker: when more disables and deletes
/// than `max(min_events, max_share × users)` reach one realm within
/// `window_secs`, further ones are refused until an admin runs
/// `kc-scim breaker reset`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeprovisionSettings {
    /// Whether the breaker is armed.
    pub enabled: bool,
    /// The sliding window, in seconds.
    pub window_secs: u64,
    /// Share of the realm's users that may be disabled or deleted per window.
    pub max_share: f64,
    /// Disables and deletes always allowed per window, whatever the realm's size.
    pub min_events: usize,
}

impl Default for DeprovisionSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            window_secs: 3_600,
            max_share: 0.10,
            min_events: 50,
        }
    }
}

/// The admin page ("Integrations → SCIM") of each served realm.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AdminPageSettings {
    /// Whether `serve` serves the page.
    pub enabled: bool,
    /// Base URL browsers reach the page at (the proxy's scheme, host and
    /// port). Defaults to `keycloak.public_url`. The sign-in client's
    /// redirect URI is built from it; the session cookie is `Secure` when
    /// it is `https`.
    pub public_url: Option<String>,
    /// Key that encrypts and signs the session cookie: at least 64 bytes,
    /// base64. Every replica behind one proxy needs the same key. Unset: a
    /// random key per process (sign-ins end with a restart and do not cross
    /// replicas).
    #[serde(serialize_with = "redact")]
    pub cookie_key: Option<SecretString>,
    /// Lifetime of a sign-in, in minutes.
    pub session_minutes: u64,
}

impl Default for AdminPageSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            public_url: None,
            cookie_key: None,
            session_minutes: 30,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSettings {
    /// `pretty` (for a terminal) or `json`.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `kc_scim=debug,info`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: LogFormat::Pretty,
            level: "info".to_owned(),
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable, for a terminal.
    Pretty,
    /// One JSON object per line, for a log pipeline.
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: {0}")]
    Invalid(#[from] config::ConfigError),
    #[error("configuration: {0}")]
    Semantic(String),
}

impl Settings {
    /// Loads defaults, then `file` (TOML) when given, then the `KCSCIM_*`
    /// environment.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        Self::load_from(file, std::env::vars())
    }

    /// As [`Settings::load`], reading the environment from `vars` (tests).
    pub fn load_from(
        file: Option<&Path>,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let env: config::Map<String, String> = vars
            .into_iter()
            .filter(|(k, _)| k.starts_with("KCSCIM_"))
            .collect();
        let mut builder = config::Config::builder();
        if let Some(path) = file {
            builder = builder.add_source(config::File::from(path).required(true));
        }
        let settings: Settings = builder
            .add_source(
                config::Environment::with_prefix("KCSCIM")
                    .prefix_separator("_")
                    .separator("__")
                    .source(Some(env)),
            )
            .build()?
            .try_deserialize()?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        url::Url::parse(&self.keycloak.url).map_err(|e| {
            ConfigError::Semantic(format!("keycloak.url {:?}: {e}", self.keycloak.url))
        })?;
        if let Some(public) = &self.keycloak.public_url {
            url::Url::parse(public).map_err(|e| {
                ConfigError::Semantic(format!("keycloak.public_url {public:?}: {e}"))
            })?;
        }
        if self.keycloak.client_id.is_some() != self.keycloak.client_secret.is_some() {
            return Err(ConfigError::Semantic(
                "keycloak.client_id and keycloak.client_secret go together".to_owned(),
            ));
        }
        if self.keycloak.username.is_some() != self.keycloak.password.is_some() {
            return Err(ConfigError::Semantic(
                "keycloak.username and keycloak.password go together".to_owned(),
            ));
        }
        self.http
            .bind
            .parse::<std::net::SocketAddr>()
            .map_err(|e| ConfigError::Semantic(format!("http.bind {:?}: {e}", self.http.bind)))?;
        if let Some(public) = &self.admin.public_url {
            url::Url::parse(public)
                .map_err(|e| ConfigError::Semantic(format!("admin.public_url {public:?}: {e}")))?;
        }
        if let Some(key) = &self.admin.cookie_key {
            use base64::Engine;
            let long_enough = base64::engine::general_purpose::STANDARD
                .decode(key.expose_secret().trim())
                .is_ok_and(|k| k.len() >= 64);
            if !long_enough {
                return Err(ConfigError::Semantic(
                    "admin.cookie_key must be base64 of at least 64 bytes \
                     (openssl rand -base64 64)"
                        .to_owned(),
                ));
            }
        }
        if !(1..=24 * 60).contains(&self.admin.session_minutes) {
            return Err(ConfigError::Semantic(
                "admin.session_minutes must be 1 to 1440".to_owned(),
            ));
        }
        if self.scim.realm_refresh_secs == 0 {
            return Err(ConfigError::Semantic(
                "scim.realm_refresh_secs must be at least 1".to_owned(),
            ));
        }
        let mut seen = std::collections::HashMap::new();
        for realm in &self.realms {
            crate::realm::RealmName::parse(realm)
                .map_err(|e| ConfigError::Semantic(format!("realms: {e}")))?;
            // A database that matches realm names case-insensitively would
            // serve one realm under two names: two caches, two breaker windows.
            if let Some(other) = seen.insert(realm.to_ascii_lowercase(), realm) {
                if other != realm {
                    return Err(ConfigError::Semantic(format!(
                        "realms: {other:?} and {realm:?} differ only in case; list each realm once, \
                         spelled as Keycloak spells it"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The base URL browsers reach the admin page at, without a trailing `/`.
    #[must_use]
    pub fn admin_public_url(&self) -> &str {
        self.admin
            .public_url
            .as_deref()
            .map_or_else(|| self.keycloak.public_url(), |u| u.trim_end_matches('/'))
    }

    /// The effective settings as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> Result<String, ConfigError> {
        toml_string(self)
    }

    /// The admin credentials, client credentials preferred.
    #[must_use]
    pub fn admin_credentials(&self) -> Option<AdminCredentials> {
        let kc = &self.keycloak;
        if let (Some(id), Some(secret)) = (&kc.client_id, &kc.client_secret) {
            return Some(AdminCredentials::ClientCredentials {
                client_id: id.clone(),
                client_secret: secret.clone(),
            });
        }
        if let (Some(user), Some(password)) = (&kc.username, &kc.password) {
            return Some(AdminCredentials::Password {
                username: user.clone(),
                password: password.clone(),
            });
        }
        None
    }
}

/// How the sidecar authenticates to the Admin API.
#[derive(Debug, Clone)]
pub enum AdminCredentials {
    /// Client-credentials grant on a confidential client with a service account.
    ClientCredentials {
        client_id: String,
        client_secret: SecretString,
    },
    /// Password grant on `admin-cli`.
    Password {
        username: String,
        password: SecretString,
    },
}

fn toml_string(settings: &Settings) -> Result<String, ConfigError> {
    // `config` already depends on `toml`; going through serde_json keeps our own
    // dependency list short and the output readable.
    let value = serde_json::to_value(settings)
        .map_err(|e| ConfigError::Semantic(format!("cannot render settings: {e}")))?;
    let mut out = String::new();
    render_toml(&value, "", &mut out);
    Ok(out)
}

fn render_toml(value: &serde_json::Value, table: &str, out: &mut String) {
    let Some(map) = value.as_object() else { return };
    for (key, v) in map {
        if v.is_null() {
            let _ = writeln!(out, "# {key} = (unset)");
        } else if !v.is_object() {
            let _ = writeln!(out, "{key} = {v}");
        }
    }
    for (key, v) in map {
        if v.is_object() {
            let name = if table.is_empty() {
                key.clone()
            } else {
                format!("{table}.{key}")
            };
            let _ = write!(out, "\n[{name}]\n");
            render_toml(v, &name, out);
        }
    }
}

#[allow(clippy::ref_option)] // serde's serialize_with hands us `&Option<T>`.
fn redact<S: Serializer>(secret: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    match secret {
        Some(value) if !value.expose_secret().is_empty() => s.serialize_str("[redacted]"),
        _ => s.serialize_none(),
    }
}

fn comma_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    let items = match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => s.split(',').map(str::to_owned).collect(),
        OneOrMany::Many(v) => v,
    };
    Ok(items
        .into_iter()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_match_the_interface_contract() {
        let s = Settings::load_from(None, env(&[])).expect("defaults load");
        assert_eq!(s.keycloak.url, "http://127.0.0.1:8080");
        assert_eq!(s.keycloak.public_url(), "http://127.0.0.1:8080");
        assert_eq!(s.keycloak.admin_realm, "master");
        assert_eq!(s.http.bind, "127.0.0.1:8090");
        assert!(s.realms.is_empty());
    }

    #[test]
    fn a_realm_listed_in_two_spellings_is_refused() {
        let err =
            Settings::load_from(None, env(&[("KCSCIM_REALMS", "demo,Demo")])).expect_err("refused");
        assert!(err.to_string().contains("differ only in case"), "{err}");
        let same = Settings::load_from(None, env(&[("KCSCIM_REALMS", "demo,demo,other")]))
            .expect("a repeated spelling is one realm");
        assert_eq!(same.realms.len(), 3);
    }

    #[test]
    fn environment_overrides_nested_keys_and_lists() {
        let s = Settings::load_from(
            None,
            env(&[
                ("KCSCIM_KEYCLOAK__URL", "http://kc:8080/"),
                ("KCSCIM_KEYCLOAK__PUBLIC_URL", "https://id.example.com/"),
                ("KCSCIM_KEYCLOAK__USERNAME", "admin"),
                ("KCSCIM_KEYCLOAK__PASSWORD", "s3cret-pw"),
                ("KCSCIM_REALMS", "alpha, beta"),
                ("KCSCIM_HTTP__BIND", "0.0.0.0:9999"),
                ("KCSCIM_SCIM__MAX_RESULTS", "50"),
            ]),
        )
        .expect("loads");
        assert_eq!(s.keycloak.public_url(), "https://id.example.com");
        assert_eq!(s.realms, vec!["alpha", "beta"]);
        assert_eq!(s.http.bind, "0.0.0.0:9999");
        assert_eq!(s.scim.max_results, 50);
        assert!(matches!(
            s.admin_credentials(),
            Some(AdminCredentials::Password { .. })
        ));
    }

    #[test]
    fn unknown_environment_key_is_rejected_with_its_name() {
        let err = Settings::load_from(None, env(&[("KCSCIM_KEYCLOAK__URLL", "x")]))
            .expect_err("unknown key");
        assert!(err.to_string().contains("urll"), "{err}");
    }

    #[test]
    fn unknown_file_key_is_rejected() {
        let dir = std::env::temp_dir().join(format!("kcscim-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let file = dir.join("c.toml");
        std::fs::write(&file, "[http]\nbind = \"127.0.0.1:1\"\nbogus = 1\n").expect("write");
        let err = Settings::load_from(Some(&file), env(&[])).expect_err("unknown key");
        assert!(err.to_string().contains("bogus"), "{err}");
    }

    #[test]
    fn redacted_output_never_contains_secrets() {
        let s = Settings::load_from(
            None,
            env(&[
                ("KCSCIM_KEYCLOAK__CLIENT_ID", "kc-scim"),
                ("KCSCIM_KEYCLOAK__CLIENT_SECRET", "very-secret-value"),
                ("KCSCIM_ADMIN__COOKIE_KEY", COOKIE_KEY),
            ]),
        )
        .expect("loads");
        let shown = s.to_redacted_toml().expect("renders");
        assert!(!shown.contains("very-secret-value"), "{shown}");
        assert!(!shown.contains(COOKIE_KEY), "{shown}");
        assert!(shown.contains("[redacted]"), "{shown}");
        assert!(!format!("{s:?}").contains("very-secret-value"));
    }

    #[test]
    fn the_realm_refresh_interval_defaults_to_30_s_and_is_never_zero() {
        let s = Settings::load_from(None, env(&[])).expect("defaults load");
        assert_eq!(s.scim.realm_refresh_secs, 30);
        let err = Settings::load_from(None, env(&[("KCSCIM_SCIM__REALM_REFRESH_SECS", "0")]))
            .expect_err("zero interval");
        assert!(err.to_string().contains("realm_refresh_secs"), "{err}");
    }

    /// base64 of 66 bytes.
    const COOKIE_KEY: &str =
        "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5";

    #[test]
    fn a_short_or_garbled_cookie_key_and_a_zero_session_are_refused() {
        for bad in ["c2hvcnQ=", "not base64!"] {
            let err = Settings::load_from(None, env(&[("KCSCIM_ADMIN__COOKIE_KEY", bad)]))
                .expect_err("bad key");
            assert!(err.to_string().contains("admin.cookie_key"), "{err}");
        }
        let err = Settings::load_from(None, env(&[("KCSCIM_ADMIN__SESSION_MINUTES", "0")]))
            .expect_err("zero session");
        assert!(err.to_string().contains("session_minutes"), "{err}");
    }

    #[test]
    fn the_admin_page_is_on_the_public_url_unless_told_otherwise() {
        let s = Settings::load_from(
            None,
            env(&[("KCSCIM_KEYCLOAK__PUBLIC_URL", "https://id.example.com/")]),
        )
        .expect("loads");
        assert_eq!(s.admin_public_url(), "https://id.example.com");
        let s = Settings::load_from(
            None,
            env(&[
                ("KCSCIM_KEYCLOAK__PUBLIC_URL", "https://id.example.com"),
                ("KCSCIM_ADMIN__PUBLIC_URL", "https://scim.example.com/"),
            ]),
        )
        .expect("loads");
        assert_eq!(s.admin_public_url(), "https://scim.example.com");
    }

    #[test]
    fn half_a_credential_pair_is_an_error() {
        let err = Settings::load_from(None, env(&[("KCSCIM_KEYCLOAK__CLIENT_ID", "x")]))
            .expect_err("half pair");
        assert!(err.to_string().contains("client_secret"), "{err}");
    }
}
