//! The command line: one subcommand per operation. Each is idempotent, and
//! those that write take `--dry-run`. Output for people goes to stdout; logs
//! go to stderr.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::bootstrap::{self, tokens, BootstrapOptions};
use crate::config::Settings;
use crate::mapping::{Onboarding, Profile};
use crate::realm::RealmName;

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
    /// Show or change a realm's SCIM settings (enabled, profile, tenant id).
    #[command(subcommand)]
    Realm(RealmCommand),
    /// Show or reset the mass-deprovision breaker of a realm.
    #[command(subcommand)]
    Breaker(BreakerCommand),
    /// Act on one user of a realm (send the passkey onboarding email again).
    #[command(subcommand)]
    User(UserCommand),
    /// Run the setup checklist for a realm; exit 0 only if every item passes.
    Doctor(DoctorArgs),
    /// Print the effective settings, secrets redacted.
    CheckConfig,
    /// Exit 0 when the local server answers /healthz (for container health checks).
    Healthcheck,
}

/// `user …` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Email the user a new link that registers a passkey (Keycloak's
    /// execute-actions email, valid `scim.onboarding_lifespan_secs`).
    Onboard {
        /// Realm.
        #[arg(long)]
        realm: RealmName,
        /// Username (as Keycloak stores it, or the SCIM userName).
        #[arg(long)]
        user: String,
    },
}

/// `breaker …` subcommands.
#[derive(Debug, Subcommand)]
pub enum BreakerCommand {
    /// Say whether the breaker is open, and since when.
    Status {
        /// Realm.
        #[arg(long)]
        realm: RealmName,
    },
    /// Close the breaker: disables and deletes are accepted again.
    Reset {
        /// Realm.
        #[arg(long)]
        realm: RealmName,
    },
}

/// `token …` subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token; the secret is the last line of stdout, shown once.
    Create {
        /// Realm.
        #[arg(long)]
        realm: RealmName,
        /// Expire the token after this many days.
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List the realm's tokens (ids and dates, never secrets).
    List {
        /// Realm.
        #[arg(long)]
        realm: RealmName,
    },
    /// Revoke a token by id.
    Revoke {
        /// Realm.
        #[arg(long)]
        realm: RealmName,
        /// Token id (from `token list`).
        id: String,
    },
}

/// `realm …` subcommands.
#[derive(Debug, Subcommand)]
pub enum RealmCommand {
    /// Change the realm's SCIM settings; running servers follow within
    /// `scim.cache_ttl_secs`.
    Set {
        /// Realm.
        #[arg(long)]
        realm: RealmName,
        /// Answer SCIM requests (`false`: 404 on every SCIM path).
        #[arg(long)]
        enabled: Option<bool>,
        /// Caller profile.
        #[arg(long, value_parser = parse_profile)]
        profile: Option<Profile>,
        /// Microsoft Entra tenant id (a GUID; `""` removes it).
        #[arg(long)]
        tenant_id: Option<String>,
        /// Allow a tenant id another realm already uses (an Entra token of
        /// the tenant is then accepted by both).
        #[arg(long)]
        allow_shared_tenant: bool,
        /// Whether a local user SCIM did not create is taken over on its
        /// first SCIM write (`allow`, the default) or refused (`deny`).
        #[arg(long, value_parser = ["allow", "deny"])]
        adopt: Option<String>,
        /// Whether emails SCIM sets count as verified (default `false`: a
        /// changed email is unverified).
        #[arg(long)]
        trust_emails: Option<bool>,
        /// Path of an existing group SCIM groups are created under, and
        /// outside of which SCIM sees no group (`""`: top level).
        #[arg(long)]
        group_parent: Option<String>,
        /// `email`: a user SCIM creates active with an email, or re-enables
        /// without a passkey, is emailed a link to register a passkey;
        /// `none` (the default): no email.
        #[arg(long, value_parser = parse_onboarding)]
        onboarding: Option<Onboarding>,
        /// Show what would change; write nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the realm's SCIM settings (never token hashes).
    Show {
        /// Realm.
        #[arg(long)]
        realm: RealmName,
    },
}

/// Arguments of `doctor`.
#[derive(Debug, clap::Args)]
pub struct DoctorArgs {
    /// Realm to check.
    #[arg(long)]
    pub realm: RealmName,
    /// Base URL of the running kc-scim (default: from `http.bind`).
    #[arg(long)]
    pub scim_url: Option<String>,
    /// Bearer token for the SCIM request; without one, a static token
    /// valid for one day is issued for the check and revoked afterwards.
    #[arg(long, env = "SCIM_DOCTOR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

/// Arguments of `bootstrap`.
#[derive(Debug, clap::Args)]
#[allow(clippy::struct_excessive_bools)] // each is one command-line flag
pub struct BootstrapArgs {
    /// Realm to set up.
    #[arg(long)]
    pub realm: RealmName,
    /// Template (`passwordless`, or a JSON file) to create the realm from when absent.
    #[arg(long)]
    pub template: Option<String>,
    /// SCIM profile of the realm.
    #[arg(long, value_parser = parse_profile)]
    pub profile: Option<Profile>,
    /// Microsoft Entra tenant id (profile azure).
    #[arg(long)]
    pub tenant_id: Option<String>,
    /// Allow a tenant id another realm already uses.
    #[arg(long)]
    pub allow_shared_tenant: bool,
    /// Show what would change; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Restore mappers that differ from the product guide's table.
    #[arg(long)]
    pub reset_mappers: bool,
    /// Also create a static bearer token (printed last, once).
    #[arg(long)]
    pub issue_token: bool,
    /// Install the passkey-only browser flow (a discoverable passkey, or the
    /// username then that user's passkey; an earlier shape is updated) and
    /// bind it as the realm's browser flow (brute-force protection and the
    /// passkeys switch on). Without this flag the realm's flows are never
    /// touched.
    #[arg(long)]
    pub passwordless_flow: bool,
}

fn parse_onboarding(s: &str) -> Result<Onboarding, String> {
    Onboarding::parse(s).ok_or_else(|| format!("unknown onboarding {s:?} (email or none)"))
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
        Command::Realm(cmd) => run_realm(&settings, cmd).await,
        Command::Breaker(cmd) => run_breaker(&settings, cmd).await,
        Command::User(cmd) => run_user(&settings, cmd).await,
        Command::Doctor(args) => {
            let opts = crate::doctor::DoctorOptions {
                realm: args.realm,
                scim_url: args.scim_url,
                token: args.token.map(secrecy::SecretString::from),
            };
            let kc = crate::startup::admin_client(&settings);
            crate::doctor::run(&settings, kc, &opts).await
        }
        Command::CheckConfig => {
            print!("{}", settings.to_redacted_toml()?);
            Ok(())
        }
        Command::Healthcheck => healthcheck(&settings).await,
    }
}

async fn run_bootstrap(settings: &Settings, args: BootstrapArgs) -> anyhow::Result<()> {
    let kc = crate::startup::admin_client(settings)?;
    if let Some(tenant) = args.tenant_id.as_deref() {
        crate::settings_store::ensure_tenant_not_shared(
            &kc,
            args.realm.as_str(),
            tenant,
            args.allow_shared_tenant,
            &settings.realms,
        )
        .await?;
    }
    let opts = BootstrapOptions {
        realm: args.realm.to_string(),
        template: args.template.clone(),
        profile: args.profile,
        tenant_id: args.tenant_id.clone(),
        dry_run: args.dry_run,
        reset_mappers: args.reset_mappers,
        passwordless_flow: args.passwordless_flow,
        console_url: settings
            .admin
            .enabled
            .then(|| settings.admin_public_url().to_owned()),
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

async fn run_breaker(settings: &Settings, cmd: BreakerCommand) -> anyhow::Result<()> {
    let kc = crate::startup::admin_client(settings)?;
    match cmd {
        BreakerCommand::Status { realm } => {
            match bootstrap::breaker::breaker_status(&kc, &realm).await? {
                Some(since) => println!(
                    "open since {since}: disables and deletes are refused \
                     (kc-scim breaker reset --realm {realm})"
                ),
                None => println!("closed"),
            }
        }
        BreakerCommand::Reset { realm } => {
            if bootstrap::breaker::reset_breaker(&kc, &realm).await? {
                println!("breaker of realm {realm} reset");
            } else {
                println!("breaker of realm {realm} was not open");
            }
        }
    }
    Ok(())
}

async fn run_token(settings: &Settings, cmd: TokenCommand) -> anyhow::Result<()> {
    let kc = crate::startup::admin_client(settings)?;
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

async fn run_user(settings: &Settings, cmd: UserCommand) -> anyhow::Result<()> {
    let UserCommand::Onboard { realm, user } = cmd;
    if let Some(why) = crate::mapping::reserved_realm(&realm, &settings.keycloak.admin_realm) {
        anyhow::bail!(why);
    }
    let kc = crate::startup::admin_client(settings)?;
    let query = crate::keycloak::UserQuery {
        username: Some(user.clone()),
        max: 2,
        ..crate::keycloak::UserQuery::default()
    };
    let found = kc.find_users(&realm, &query).await?;
    let Some(target) = found.into_iter().find(|u| {
        u.username
            .as_deref()
            .is_some_and(|n| n.eq_ignore_ascii_case(&user))
    }) else {
        anyhow::bail!("realm {realm} has no user {user:?}");
    };
    let id = target.id.clone().unwrap_or_default();
    anyhow::ensure!(
        target
            .email
            .as_deref()
            .is_some_and(|e| !e.trim().is_empty()),
        "user {user:?} has no email address: Keycloak has nowhere to send the link"
    );
    anyhow::ensure!(
        target.enabled == Some(true),
        "user {user:?} is disabled: enable the user first (a disabled user cannot use the link)"
    );
    let result = crate::directory::onboarding::send_onboarding_email(
        &kc,
        &realm,
        &id,
        settings.keycloak.public_url(),
        settings.scim.onboarding_lifespan_secs,
    )
    .await;
    crate::directory::onboarding::record_onboarding(&realm, &id, "cli", &result);
    result.with_context(|| {
        format!("Keycloak did not send the onboarding email (check the realm's SMTP settings: kc-scim doctor --realm {realm})")
    })?;
    println!(
        "onboarding email sent to {user} (link valid {} s)",
        settings.scim.onboarding_lifespan_secs
    );
    Ok(())
}

async fn run_realm(settings: &Settings, cmd: RealmCommand) -> anyhow::Result<()> {
    let kc = crate::startup::admin_client(settings)?;
    match cmd {
        RealmCommand::Set {
            realm,
            enabled,
            profile,
            tenant_id,
            allow_shared_tenant,
            adopt,
            trust_emails,
            group_parent,
            onboarding,
            dry_run,
        } => {
            let change = bootstrap::settings_change::SettingsChange {
                enabled,
                profile,
                tenant_id,
                allow_shared_tenant,
                adopt: adopt.map(|a| a == "allow"),
                trust_emails,
                group_parent,
                onboarding,
                dry_run,
            };
            let (outcome, wanted) =
                bootstrap::settings_change::change_settings(&kc, &realm, &change, &settings.realms)
                    .await?;
            let outcome = match (outcome, dry_run) {
                (bootstrap::Outcome::Updated, true) => "would be updated (dry run)".to_owned(),
                (o, _) => o.to_string(),
            };
            println!("scim settings of realm {realm} {outcome}");
            print_settings(&wanted);
        }
        RealmCommand::Show { realm } => {
            let (_, current) = tokens::client_and_settings(&kc, &realm).await?;
            println!("realm           {realm}");
            print_settings(&current);
            println!(
                "tenant url      {}",
                bootstrap::tenant_url(settings.keycloak.public_url(), &realm)
            );
        }
    }
    Ok(())
}

fn print_settings(s: &crate::mapping::RealmScimSettings) {
    let now = chrono::Utc::now();
    let active = s.tokens.iter().filter(|t| t.is_active(now)).count();
    println!("enabled         {}", s.enabled);
    println!("profile         {}", s.profile.as_str());
    println!(
        "tenant id       {}",
        s.tenant_id.as_deref().unwrap_or("(none)")
    );
    println!(
        "group parent    {}",
        s.group_parent.as_deref().unwrap_or("(top level)")
    );
    println!("adopt           {}", if s.adopt { "allow" } else { "deny" });
    println!("trust emails    {}", s.trust_emails);
    println!("onboarding      {}", s.onboarding.as_str());
    if let Some(since) = &s.breaker_tripped_at {
        println!("breaker         open since {since}");
    }
    println!(
        "static tokens   {active} active, {} expired",
        s.tokens.len() - active
    );
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
