//! The command line: one subcommand per operation. Each is idempotent, and
//! those that write take `--dry-run`. Output for people goes to stdout; logs
//! go to stderr.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::bootstrap::{self, BootstrapOptions};
use crate::config::Settings;
use crate::keycloak::KcAdmin;
use crate::mapping::Profile;

/// SCIM 2.0 service provider that runs as a sidecar beside Keycloak.
#[derive(Debug, Parser)]
#[command(name = "kc-scim", version, about)]
pub struct Cli {
    /// Settings file (TOML); `KCSCIM_*` environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve SCIM (and /healthz, /readyz, /metrics) on `http.bind`, after
    /// ensuring the SCIM setup of every realm in `realms`.
    Serve,
    /// Set up a realm for SCIM: realm (from a template when absent), the
    /// scim-endpoint client, its seven mappers, user profile and settings.
    Bootstrap(BootstrapArgs),
    /// Print the effective settings, secrets redacted.
    CheckConfig,
    /// Exit 0 when the local server answers /healthz (for container health checks).
    Healthcheck,
}

/// Arguments of `bootstrap`.
#[derive(Debug, clap::Args)]
pub struct BootstrapArgs {
    /// Realm to set up.
    #[arg(long)]
    pub realm: String,
    /// Template (`passwordless`, or a JSON file) to create the realm from when absent.
    #[arg(long)]
    pub template: Option<String>,
    /// SCIM profile of the realm.
    #[arg(long, value_parser = parse_profile)]
    pub profile: Option<Profile>,
    /// Microsoft Entra tenant id (profile azure).
    #[arg(long)]
    pub tenant_id: Option<String>,
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Restore mappers that differ from the product guide's table.
    #[arg(long)]
    pub reset_mappers: bool,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    Profile::parse(s).ok_or_else(|| format!("unknown profile {s:?} (generic or azure)"))
}

/// Runs the parsed command with loaded settings.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => crate::startup::serve(settings).await,
        Command::Bootstrap(args) => run_bootstrap(&settings, args).await,
        Command::CheckConfig => {
            print!("{}", settings.to_redacted_toml()?);
            Ok(())
        }
        Command::Healthcheck => healthcheck(&settings).await,
    }
}

/// The admin client from settings, with a clear error when no credentials are set.
pub fn admin_client(settings: &Settings) -> anyhow::Result<KcAdmin> {
    let credentials = settings.admin_credentials().context(
        "no Keycloak admin credentials: set KCSCIM_KEYCLOAK__CLIENT_ID and \
         KCSCIM_KEYCLOAK__CLIENT_SECRET, or KCSCIM_KEYCLOAK__USERNAME and \
         KCSCIM_KEYCLOAK__PASSWORD",
    )?;
    Ok(KcAdmin::new(&settings.keycloak, credentials)?)
}

async fn run_bootstrap(settings: &Settings, args: BootstrapArgs) -> anyhow::Result<()> {
    let kc = admin_client(settings)?;
    let opts = BootstrapOptions {
        realm: args.realm,
        template: args.template,
        profile: args.profile,
        tenant_id: args.tenant_id,
        dry_run: args.dry_run,
        reset_mappers: args.reset_mappers,
    };
    let report = bootstrap::run(&kc, &opts)
        .await
        .with_context(|| format!("bootstrap of realm {:?}", opts.realm))?;
    print!("{report}");
    println!(
        "Tenant URL: {}",
        bootstrap::tenant_url(settings.keycloak.public_url(), &opts.realm)
    );
    Ok(())
}

async fn healthcheck(settings: &Settings) -> anyhow::Result<()> {
    let bind: std::net::SocketAddr = settings.http.bind.parse()?;
    let host = if bind.ip().is_unspecified() {
        "127.0.0.1".to_owned()
    } else {
        bind.ip().to_string()
    };
    let url = format!("http://{host}:{}/healthz", bind.port());
    let http = crate::keycloak::outbound_client(
        std::time::Duration::from_secs(3),
        std::time::Duration::from_secs(2),
    )?;
    let status = http
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url} unreachable"))?
        .status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}");
    Ok(())
}
