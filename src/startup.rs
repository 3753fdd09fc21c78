//! The composition root: the only module that names every layer. `serve`
//! ensures the configured realms, then runs the HTTP server until a signal.

use anyhow::Context;

use crate::bootstrap::{self, BootstrapOptions};
use crate::config::Settings;

/// Runs `kc-scim serve`.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let kc = crate::cli::admin_client(&settings)?;
    for realm in &settings.realms {
        let opts = BootstrapOptions {
            realm: realm.clone(),
            ..BootstrapOptions::default()
        };
        let report = bootstrap::run(&kc, &opts)
            .await
            .with_context(|| format!("ensuring SCIM setup of realm {realm:?}"))?;
        tracing::info!(realm = %realm, changed = !report.changed_nothing(), "realm ready");
    }
    let bind = settings.http.bind.clone();
    let server = actix_web::HttpServer::new(|| {
        actix_web::App::new().route(
            "/healthz",
            actix_web::web::get().to(|| async { actix_web::HttpResponse::Ok().body("ok") }),
        )
    })
    .bind(&bind)
    .with_context(|| format!("cannot listen on {bind}"))?
    .run();
    tracing::info!(%bind, "serving");
    server.await.context("server failed")
}
