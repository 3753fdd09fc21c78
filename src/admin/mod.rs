//! The admin page ("Integrations → SCIM") of each realm kc-scim set up,
//! under `/realms/{realm}/scim/admin/`: a realm admin signs in through the
//! realm (OIDC code + PKCE, [`oidc`]), then turns SCIM on, picks the
//! profile, issues and revokes tokens, runs the checklist and resets the
//! breaker — through the same functions as the command line (`realm set`,
//! `token …`, `doctor`, `bootstrap --reset-mappers`, `breaker reset`).
//!
//! Invariants:
//! - a realm kc-scim does not manage answers 404 before anything else,
//!   without a Keycloak call (no realm existence leak);
//! - all state is in the encrypted cookies ([`session`]): any replica with
//!   the same key serves any request;
//! - every request is allowed only after Keycloak confirms that the
//!   session's user exists, is enabled, still has its Keycloak session and
//!   holds the realm role `scim-admin` or `realm-management/manage-realm`;
//! - every POST carries the session's CSRF token, checked before any
//!   Keycloak call (else 403); every change is audited with the admin's
//!   username; no secret is put in a URL or a log line;
//! - responses carry a CSP without inline script and `Cache-Control: no-store`.

mod handlers;
pub mod oidc;
pub mod session;
mod view;

use std::sync::Arc;

use actix_web::web;

use crate::config::Settings;
use crate::directory::RealmRegistry;
use crate::keycloak::KcAdmin;

/// Everything the page needs, shared by all workers.
pub struct AdminPage {
    kc: KcAdmin,
    registry: Arc<RealmRegistry>,
    settings: Settings,
    sealer: session::CookieSealer,
    endpoints: oidc::Endpoints,
    /// Base URL browsers reach the page at, without a trailing `/`.
    public_url: String,
    /// Outbound client for the code exchange (no redirects).
    http: reqwest::Client,
    /// This sidecar's own SCIM base URL, for the checklist's Test Connection.
    scim_url: String,
    /// Lifetime of a session, in seconds.
    session_secs: i64,
    /// The `Content-Security-Policy` of every response.
    csp: String,
}

impl AdminPage {
    /// The page for `settings`, reading Keycloak through `kc`, serving the
    /// realms `registry` manages; `scim_url` is this sidecar's own address.
    pub fn new(
        settings: &Settings,
        kc: KcAdmin,
        registry: Arc<RealmRegistry>,
        scim_url: String,
    ) -> anyhow::Result<Self> {
        use secrecy::ExposeSecret;
        let public_url = settings.admin_public_url().to_owned();
        let secure = public_url.starts_with("https://");
        let key = settings
            .admin
            .cookie_key
            .as_ref()
            .map(|k| k.expose_secret().to_owned());
        if key.is_none() {
            tracing::warn!(
                "admin.cookie_key is not set: admin page sign-ins use a random key of this \
                 process (they end with a restart and do not cross replicas)"
            );
        }
        let sealer = session::CookieSealer::new(key.as_deref(), secure)?;
        let keycloak_public = settings.keycloak.public_url().to_owned();
        let form_origin = url::Url::parse(&keycloak_public)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        let csp = format!(
            "default-src 'self'; form-action 'self' {form_origin}; frame-ancestors 'none'; \
             base-uri 'none'; object-src 'none'"
        );
        let http = crate::keycloak::outbound_client(
            std::time::Duration::from_millis(settings.keycloak.timeout_ms),
            std::time::Duration::from_millis(settings.keycloak.connect_timeout_ms),
        )?;
        Ok(Self {
            kc,
            registry,
            settings: settings.clone(),
            sealer,
            endpoints: oidc::Endpoints {
                public_base: keycloak_public,
                internal_base: settings.keycloak.url.clone(),
            },
            public_url,
            http,
            scim_url,
            session_secs: i64::try_from(settings.admin.session_minutes.saturating_mul(60))
                .unwrap_or(1800),
            csp,
        })
    }
}

/// Mounts the page's routes.
pub fn configure(cfg: &mut web::ServiceConfig, page: web::Data<AdminPage>) {
    let headers = actix_web::middleware::DefaultHeaders::new()
        .add(("Content-Security-Policy", page.csp.clone()))
        .add(("Cache-Control", "no-store"))
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("X-Frame-Options", "DENY"))
        .add(("Referrer-Policy", "no-referrer"));
    cfg.service(
        web::scope("/realms/{realm}/scim/admin")
            .app_data(page)
            .app_data(web::FormConfig::default().limit(16 * 1024))
            .wrap(headers)
            .route("", web::get().to(handlers::to_slash))
            .route("/", web::get().to(handlers::main_page))
            .route("/callback", web::get().to(handlers::callback))
            .route("/checklist", web::get().to(handlers::checklist_get))
            .route("/checklist", web::post().to(handlers::checklist))
            .route("/signed-out", web::get().to(handlers::signed_out))
            .route("/static/copy.js", web::get().to(handlers::copy_js))
            .route("/static/admin.css", web::get().to(handlers::admin_css))
            .route("/settings", web::post().to(handlers::update_settings))
            .route("/tokens", web::post().to(handlers::create_token))
            .route("/tokens/revoke", web::post().to(handlers::revoke_token))
            .route("/mappers/reset", web::post().to(handlers::reset_mappers))
            .route("/breaker/reset", web::post().to(handlers::reset_breaker))
            .default_service(web::to(handlers::not_found)),
    );
}
