//! The command line: one subcommand per operation. Each is idempotent, and
//! those that write take `--dry-run`. Output for people goes to stdout; logs
//! go to stderr.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::bootstrap::{self, tokens, BootstrapOptions};
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
    /// Manage the static bearer tokens of a realm.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the effective settings, secrets redacted.
    CheckConfig,
    /// Exit 0 when the local server answers /healthz (for container health checks).
    Healthcheck,
}

/// `token …` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; the secret is the last line of stdout, shown once.
    Create {
        /// Realm.
        #[arg(long)]
        realm: String,
        /// Expire the token after this many days.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List the realm's tokens (ids and dates, never secrets).
    List {
        /// Realm.
        #[arg(long)]
        realm: String,
    },
    /// Revoke a token by id.
    Revoke {
        /// Realm.
        #[arg(long)]
        realm: String,
        /// Token id (from `token list`).
        id: String,
    },
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
    /// Also create a static bearer token (printed last, once).
    #[arg(long)]
    pub issue_token: bool,
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    Profile::parse(s).ok_or_else(|| format!("unknown profile {s:?} (generic or azure)"))
}

/// Runs the parsed command with loaded settings.
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => crate::startup::serve(settings).await,
        Command::Bootstrap(args) => run_bootstrap(&settings, args).await,
        Command::Token(cmd) => run_token(&settings, cmd).await,
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
        realm: args.realm.clone(),
        template: args.template.clone(),
        profile: args.profile,
        tenant_id: args.tenant_id.clone(),
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
    if args.issue_token && !opts.dry_run {
        let (stored, secret) = tokens::create_token(&kc, &opts.realm, None).await?;
        println!("Secret Token (id {}, shown once):", stored.id);
        println!("{secret}");
    }
    Ok(())
}

async fn run_token(settings: &Settings, cmd: TokenCommand) -> anyhow::Result<()> {
    let kc = admin_client(settings)?;
    match cmd {
        TokenCommand::Create {
            realm,
            expires_in_days,
        } => {
            let (stored, secret) = tokens::create_token(&kc, &realm, expires_in_days).await?;
            println!(
                "token {} created{}; the secret is shown once:",
                stored.id,
                stored
                    .expires
                    .map(|e| format!(", expires {e}"))
                    .unwrap_or_default()
            );
            println!("{secret}");
        }
        TokenCommand::List { realm } => {
            for t in tokens::list_tokens(&kc, &realm).await? {
                println!(
                    "{}  created {}  expires {}",
                    t.id,
                    t.created,
                    t.expires.as_deref().unwrap_or("never")
                );
            }
        }
        TokenCommand::Revoke { realm, id } => {
            tokens::revoke_token(&kc, &realm, &id).await?;
            println!("token {id} revoked");
        }
    }
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
