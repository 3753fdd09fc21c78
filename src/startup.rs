//! The composition root: the only module that names every layer. `build`
//! ensures the configured realms, fills the served-realm registry (and
//! starts its background refresh), wires the Keycloak directory into the
//! HTTP layer and binds the listener (port 0 works, for tests); `run` serves
//! until a signal, then drains in-flight requests.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::{web, App, HttpServer};
use anyhow::Context;

use crate::admin::AdminPage;
use crate::bootstrap::{self, BootstrapOptions};
use crate::config::{AdminCredentials, Settings};
use crate::directory::{KcDirectory, KcDirectoryOptions, RealmRegistry};
use crate::http::{self, AppState, Limits};
use crate::keycloak::{AdminGrant, KcAdmin, KcAdminOptions, KcError};

/// How long in-flight requests may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(20);

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    directory: Arc<KcDirectory>,
    refresh: tokio::task::AbortHandle,
}

impl Application {
    /// Ensures the SCIM setup of `settings.realms`, fills the registry of
    /// served realms, then binds `http.bind`.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let kc = admin_client(settings)?;
        // Its own client: the registry's calls are counted apart from requests'.
        let registry = Arc::new(RealmRegistry::new(
            admin_client(settings)?,
            &settings.realms,
        ));
        for realm in &settings.realms {
            let opts = BootstrapOptions {
                realm: realm.clone(),
                ..BootstrapOptions::default()
            };
            let report = bootstrap::run(&kc, &opts)
                .await
                .with_context(|| format!("ensuring SCIM setup of realm {realm:?}"))?;
            tracing::info!(realm = %realm, changed = !report.changed_nothing(), "realm ready");
            if settings.admin.enabled {
                if let Err(e) =
                    bootstrap::ensure_admin_page(&kc, realm, settings.admin_public_url()).await
                {
                    tracing::warn!(
                        realm = %realm,
                        error = %format!("{e:#}"),
                        "cannot set up the admin page's sign-in (run kc-scim bootstrap with an \
                         account that may create clients and roles); its page cannot sign anyone in"
                    );
                }
            }
            let served = registry
                .refresh_realm(realm)
                .await
                .with_context(|| format!("checking whether realm {realm:?} is enabled"))?;
            if !served {
                tracing::warn!(realm = %realm, "realm listed but its SCIM is disabled: not served");
            }
        }
        match registry.refresh().await {
            Ok(served) => tracing::info!(served, "served realms read"),
            Err(e) => tracing::warn!(
                error = %e,
                "cannot read the served realms; every SCIM request is answered 503 until a \
                 refresh succeeds"
            ),
        }
        let refresh = spawn_refresh(
            registry.clone(),
            Duration::from_secs(settings.scim.realm_refresh_secs),
        );
        let directory = Arc::new(KcDirectory::new(
            kc,
            KcDirectoryOptions {
                public_url: settings.keycloak.public_url().to_owned(),
                cache_ttl: Duration::from_secs(settings.scim.cache_ttl_secs),
                max_scan: settings.scim.max_scan,
                max_in_flight_per_realm: settings.scim.max_in_flight_per_realm,
                queue_wait: Duration::from_millis(settings.scim.queue_wait_ms),
                write_wait: Duration::from_millis(
                    settings
                        .scim
                        .queue_wait_ms
                        .saturating_add(settings.keycloak.timeout_ms.saturating_mul(2)),
                ),
                deprovision: settings.deprovision.clone(),
                onboarding_lifespan: Duration::from_secs(settings.scim.onboarding_lifespan_secs),
            },
            registry.clone(),
        ));
        let auth = Arc::new(authenticator(settings)?);
        let state = web::Data::new(AppState {
            directory: directory.clone(),
            auth,
            limits: Limits {
                max_results: settings.scim.max_results,
                max_body_bytes: settings.http.max_body_bytes,
            },
        });
        let listener = TcpListener::bind(&settings.http.bind)
            .with_context(|| format!("cannot listen on {}", settings.http.bind))?;
        let local = listener.local_addr()?;
        let port = local.port();
        let admin_page = if settings.admin.enabled {
            let own = match local.ip() {
                ip if ip.is_unspecified() => format!("http://127.0.0.1:{port}"),
                std::net::IpAddr::V6(ip) => format!("http://[{ip}]:{port}"),
                std::net::IpAddr::V4(ip) => format!("http://{ip}:{port}"),
            };
            Some(web::Data::new(
                AdminPage::new(settings, admin_client(settings)?, registry, own)
                    .context("admin page")?,
            ))
        } else {
            None
        };
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(http::echo_request_id))
                .wrap(http::request_logger())
                .configure(|cfg| {
                    if let Some(page) = &admin_page {
                        crate::admin::configure(cfg, page.clone());
                    }
                    http::configure(cfg, state.clone());
                })
        })
        .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
        .listen(listener)?;
        if settings.http.workers > 0 {
            server = server.workers(settings.http.workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            directory,
            refresh,
        })
    }

    /// The bound port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The directory (tests read its Keycloak call counters).
    #[must_use]
    pub fn directory(&self) -> Arc<KcDirectory> {
        self.directory.clone()
    }

    /// Serves until SIGINT / SIGTERM, then finishes in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        self.refresh.abort();
        served
    }
}

/// Re-reads the served realms every `every` (the first time one interval
/// after start-up, which has just read them).
fn spawn_refresh(registry: Arc<RealmRegistry>, every: Duration) -> tokio::task::AbortHandle {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if let Err(e) = registry.refresh().await {
                tracing::warn!(error = %e, "cannot refresh the served realms; kept as they were");
            }
        }
    })
    .abort_handle()
}

/// The admin client from settings, with a clear error when no credentials are set.
pub fn admin_client(settings: &Settings) -> anyhow::Result<KcAdmin> {
    let credentials = settings.admin_credentials().context(
        "no Keycloak admin credentials: set KCSCIM_KEYCLOAK__CLIENT_ID and \
         KCSCIM_KEYCLOAK__CLIENT_SECRET, or KCSCIM_KEYCLOAK__USERNAME and \
         KCSCIM_KEYCLOAK__PASSWORD",
    )?;
    let kc = &settings.keycloak;
    let base_url = url::Url::parse(&kc.url)
        .map_err(|e| KcError::Protocol(format!("keycloak.url {:?}: {e}", kc.url)))?;
    Ok(KcAdmin::new(KcAdminOptions {
        base_url,
        admin_realm: kc.admin_realm.clone(),
        grant: admin_grant(credentials),
        timeout: Duration::from_millis(kc.timeout_ms),
        connect_timeout: Duration::from_millis(kc.connect_timeout_ms),
    })?)
}

/// The settings' admin credentials as the Keycloak client takes them.
fn admin_grant(credentials: AdminCredentials) -> AdminGrant {
    match credentials {
        AdminCredentials::ClientCredentials {
            client_id,
            client_secret,
        } => AdminGrant::ClientCredentials {
            client_id,
            client_secret,
        },
        AdminCredentials::Password { username, password } => {
            AdminGrant::Password { username, password }
        }
    }
}

/// Bearer verification; key sets are fetched with their own short timeouts
/// (a slow key server must not hold requests for Keycloak's timeout).
fn authenticator(settings: &Settings) -> anyhow::Result<crate::auth::Authenticator> {
    let http = crate::keycloak::outbound_client(Duration::from_secs(5), Duration::from_secs(2))
        .context("outbound HTTP client for signing keys")?;
    Ok(crate::auth::Authenticator::new(
        &http,
        crate::auth::AuthenticatorOptions {
            entra_jwks_url: settings.auth.entra_jwks_url.clone(),
            keycloak_url: settings.keycloak.url.clone(),
            public_url: settings.keycloak.public_url().to_owned(),
            clock_skew: Duration::from_secs(settings.auth.clock_skew_secs),
            jwks: crate::auth::JwksTiming {
                min_refetch: Duration::from_secs(settings.auth.jwks_min_refetch_secs),
                max_age: Duration::from_secs(settings.auth.jwks_max_age_secs),
            },
        },
    ))
}

/// Runs `kc-scim serve`.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let app = Application::build(&settings).await?;
    tracing::info!(bind = %settings.http.bind, port = app.port(), "serving SCIM");
    app.run_until_stopped().await.context("server failed")
}
