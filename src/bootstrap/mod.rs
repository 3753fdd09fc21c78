//! Idempotent `ensure_*` steps that do what an admin would otherwise click
//! together: the realm (from a template when absent), the `scim-endpoint`
//! client, its seven user-attribute mappers, the user-profile declarations
//! and the per-realm SCIM settings.
//!
//! Invariants: `master` and the realm of the sidecar's own admin
//! credentials are refused before any call; a step writes only when
//! something is missing or the operator asked for a change; an existing mapper is never overwritten unless
//! `reset_mappers` is set (an admin may have customised it); `dry_run` makes
//! no write call at all.

mod console;
mod flow;
mod template;
pub mod breaker;
pub mod settings_change;
pub mod tokens;

use std::fmt;

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::keycloak::{KcAdmin, KcClient};
use crate::mapping::settings::{RealmScimSettings, ATTR_ENABLED};
use crate::mapping::{
    declared_attributes, fidelity, reserved_realm, MapperTable, Profile, SCIM_CLIENT_ID,
};
use crate::settings_store;

pub use console::console_urls;
pub use flow::{
    flow_shape, is_passkey_flow, FlowShape, FLOW_ALIAS, PASSKEYS_SWITCH, PASSKEY_AUTHENTICATOR,
    REGISTER_PASSKEY_ACTION,
};
pub use template::{load_template, TEMPLATE_NAMES};

/// What a bootstrap run should do.
#[derive(Debug, Clone, Default)]
pub struct BootstrapOptions {
    /// The realm to set up.
    pub realm: String,
    /// Template name (`passwordless`) or file to create the realm from when it
    /// is absent; without one a missing realm is an error.
    pub template: Option<String>,
    /// Set the realm's SCIM profile.
    pub profile: Option<Profile>,
    /// Set the realm's Azure tenant id.
    pub tenant_id: Option<String>,
    /// Report what would change; write nothing.
    pub dry_run: bool,
    /// Restore mappers that differ from the product guide's table.
    pub reset_mappers: bool,
    /// Install the passkey-only browser flow and bind it (never without it).
    pub passwordless_flow: bool,
    /// Public base URL of the admin page (`https://host`): when set, the
    /// page's sign-in client and the `scim-admin` role are ensured too.
    pub console_url: Option<String>,
}

/// The result of one step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The object did not exist and was created.
    Created,
    /// The object existed and was changed.
    Updated,
    /// Nothing to do.
    Unchanged,
    /// The object differs from the default and was left as the admin set it.
    Customized,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Unchanged => "unchanged",
            Self::Customized => "customized",
        })
    }
}

/// One reported step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What the step ensures, e.g. `mapper loginName`.
    pub name: String,
    /// What happened (or would happen, in a dry run).
    pub outcome: Outcome,
    /// A short explanation where the outcome alone does not say enough.
    pub detail: Option<String>,
}

/// What a bootstrap run did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The steps in order.
    pub steps: Vec<Step>,
    /// Whether this was a dry run.
    pub dry_run: bool,
}

impl Report {
    fn push(&mut self, name: impl Into<String>, outcome: Outcome, detail: Option<String>) {
        let step = Step {
            name: name.into(),
            outcome,
            detail,
        };
        tracing::debug!(step = %step.name, outcome = %step.outcome, dry_run = self.dry_run, "bootstrap");
        self.steps.push(step);
    }

    /// Whether every step was `unchanged` (or `customized`, which is left alone).
    #[must_use]
    pub fn changed_nothing(&self) -> bool {
        self.steps
            .iter()
            .all(|s| matches!(s.outcome, Outcome::Unchanged | Outcome::Customized))
    }

    /// The outcome of the step named `name`.
    #[must_use]
    pub fn outcome(&self, name: &str) -> Option<Outcome> {
        self.steps
            .iter()
            .find(|s| s.name == name)
            .map(|s| s.outcome)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = if self.dry_run { " (dry run)" } else { "" };
        for step in &self.steps {
            write!(f, "{:<34} {}{suffix}", step.name, step.outcome)?;
            if let Some(detail) = &step.detail {
                write!(f, "  — {detail}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

/// Runs every ensure step for one realm.
pub async fn run(kc: &KcAdmin, opts: &BootstrapOptions) -> anyhow::Result<Report> {
    crate::realm::RealmName::parse(&opts.realm)?;
    if let Some(why) = reserved_realm(&opts.realm, kc.admin_realm()) {
        bail!(why);
    }
    if opts.profile == Some(Profile::Azure) && opts.tenant_id.is_none() {
        // Checked again against what is stored, below; fail early when we can.
        tracing::debug!("profile azure requested; tenant id must be stored already");
    }
    let mut report = Report {
        steps: Vec::new(),
        dry_run: opts.dry_run,
    };
    let created_realm = ensure_realm(kc, opts, &mut report).await?;
    if !(created_realm && opts.dry_run) {
        ensure_username_edits(kc, opts, &mut report).await?;
    }
    if created_realm && opts.dry_run {
        // Nothing below can be read from a realm that does not exist yet.
        for name in planned_steps(opts) {
            report.push(name, Outcome::Created, None);
        }
        return Ok(report);
    }
    let (client, client_created) = ensure_client(kc, opts, &mut report).await?;
    let client_uuid = client
        .id
        .clone()
        .context("Keycloak returned the scim-endpoint client without an id")?;
    ensure_client_scopes(kc, opts, &client_uuid, &mut report).await?;
    let table = ensure_mappers(kc, opts, &client_uuid, &mut report).await?;
    ensure_user_profile(kc, opts, &table, &mut report).await?;
    if client_created {
        // The settings were written with the client.
        let settings =
            RealmScimSettings::from_attributes(&client.attributes).map_err(anyhow::Error::msg)?;
        report.push("scim settings", Outcome::Created, Some(summary(&settings)));
    } else {
        ensure_settings(kc, opts, client, &mut report).await?;
    }
    if opts.passwordless_flow {
        flow::ensure_passwordless_flow(kc, opts, &mut report).await?;
    }
    console::ensure_console(kc, opts, &mut report).await?;
    Ok(report)
}

fn planned_steps(opts: &BootstrapOptions) -> Vec<String> {
    let mut names = vec![
        USERNAME_EDITS_STEP.to_owned(),
        format!("client {SCIM_CLIENT_ID}"),
        "client scopes".to_owned(),
    ];
    names.extend(
        MapperTable::defaults()
            .rules
            .iter()
            .map(|r| format!("mapper {}", r.name)),
    );
    names.push("user profile".to_owned());
    names.push("scim settings".to_owned());
    if opts.passwordless_flow {
        names.push(format!("browser flow {FLOW_ALIAS}"));
        names.push("browser flow binding".to_owned());
        names.push(format!("required action {REGISTER_PASSKEY_ACTION}"));
    }
    if opts.console_url.is_some() {
        names.extend(console::console_steps());
    }
    names
}

/// Creates the realm from its template when it is absent. Returns whether it
/// was (or, in a dry run, would be) created.
async fn ensure_realm(
    kc: &KcAdmin,
    opts: &BootstrapOptions,
    report: &mut Report,
) -> anyhow::Result<bool> {
    let step = format!("realm {}", opts.realm);
    if kc.get_realm(&opts.realm).await?.is_some() {
        report.push(step, Outcome::Unchanged, None);
        return Ok(false);
    }
    let Some(template) = &opts.template else {
        bail!(
            "realm {:?} does not exist; pass --template {} (or a template file) to create it",
            opts.realm,
            TEMPLATE_NAMES.join("|")
        );
    };
    let representation = load_template(template, &opts.realm)?;
    if !opts.dry_run {
        kc.create_realm(&representation)
            .await
            .with_context(|| format!("creating realm {:?} from template {template}", opts.realm))?;
        // The admin token predates the realm: its permissions do not cover it.
        kc.forget_token().await;
    }
    report.push(
        step,
        Outcome::Created,
        Some(format!("from template {template}")),
    );
    Ok(true)
}

const USERNAME_EDITS_STEP: &str = "username edits";

/// Entra renames a user by sending a new `userName` (a changed
/// userPrincipalName); Keycloak refuses username changes unless the realm
/// allows them (`editUsernameAllowed`), so a SCIM realm allows them. Users
/// themselves still cannot: the username stays read-only in the account
/// console unless the user profile grants them edit rights.
async fn ensure_username_edits(
    kc: &KcAdmin,
    opts: &BootstrapOptions,
    report: &mut Report,
) -> anyhow::Result<()> {
    let allowed = kc
        .get_realm(&opts.realm)
        .await?
        .and_then(|r| r.extra.get("editUsernameAllowed").and_then(Value::as_bool))
        == Some(true);
    if allowed {
        report.push(USERNAME_EDITS_STEP, Outcome::Unchanged, None);
        return Ok(());
    }
    if !opts.dry_run {
        kc.update_realm_fields(&opts.realm, &json!({"editUsernameAllowed": true}))
            .await
            .context("allowing username edits, which SCIM renames need")?;
    }
    report.push(
        USERNAME_EDITS_STEP,
        Outcome::Updated,
        Some("editUsernameAllowed=true (SCIM renames)".to_owned()),
    );
    Ok(())
}

/// The `scim-endpoint` client as bootstrap creates it: confidential, service
/// account on (remote-token authentication), no browser or password flows.
fn scim_client(settings: &RealmScimSettings) -> KcClient {
    let mut client = KcClient {
        client_id: SCIM_CLIENT_ID.to_owned(),
        name: Some("SCIM endpoint".to_owned()),
        description: Some(
            "Managed by kc-scim: SCIM provisioning settings and the SCIM attribute mappers"
                .to_owned(),
        ),
        enabled: Some(true),
        protocol: Some("openid-connect".to_owned()),
        public_client: Some(false),
        service_accounts_enabled: Some(true),
        standard_flow_enabled: Some(false),
        implicit_flow_enabled: Some(false),
        direct_access_grants_enabled: Some(false),
        client_authenticator_type: Some("client-secret".to_owned()),
        ..KcClient::default()
    };
    settings.write_attributes(&mut client.attributes);
    client
}

/// The flows of `client` that issue tokens to users, by their console names.
#[must_use]
pub fn user_flows_on(client: &KcClient) -> Vec<&'static str> {
    [
        (client.standard_flow_enabled, "standard flow"),
        (client.implicit_flow_enabled, "implicit flow"),
        (client.direct_access_grants_enabled, "direct access grants"),
    ]
    .into_iter()
    .filter(|(on, _)| *on == Some(true))
    .map(|(_, name)| name)
    .collect()
}

async fn ensure_client(
    kc: &KcAdmin,
    opts: &BootstrapOptions,
    report: &mut Report,
) -> anyhow::Result<(KcClient, bool)> {
    let step = format!("client {SCIM_CLIENT_ID}");
    if let Some(mut existing) = kc.find_client(&opts.realm, SCIM_CLIENT_ID).await? {
        let wanted = scim_client(&RealmScimSettings::default());
        let same = existing.public_client == wanted.public_client
            && existing.service_accounts_enabled == wanted.service_accounts_enabled;
        let user_flows = user_flows_on(&existing);
        let (outcome, detail) = if !same {
            (
                Outcome::Customized,
                Some("not a confidential client with a service account".to_owned()),
            )
        } else if user_flows.is_empty() {
            (Outcome::Unchanged, None)
        } else {
            // A user's token of this client would otherwise reach SCIM with
            // the sidecar's admin rights: only client credentials may.
            existing.standard_flow_enabled = Some(false);
            existing.implicit_flow_enabled = Some(false);
            existing.direct_access_grants_enabled = Some(false);
            if !opts.dry_run {
                let id = existing.id.clone().unwrap_or_default();
                kc.update_client(&opts.realm, &id, &existing).await?;
            }
            (
                Outcome::Updated,
                Some(format!(
                    "turned off {} (only client credentials may call SCIM)",
                    user_flows.join(", ")
                )),
            )
        };
        report.push(step, outcome, detail);
        return Ok((existing, false));
    }
    let mut settings = RealmScimSettings::default();
    apply_setting_options(opts, &mut settings)?;
    let mut client = scim_client(&settings);
    if opts.dry_run {
        client.id = Some(String::new());
    } else {
        client.id = Some(kc.create_client(&opts.realm, &client).await?);
    }
    report.push(step, Outcome::Created, None);
    Ok((client, true))
}

/// Default client scopes whose claims collide with the guide's mappers: the
/// `profile` scope's "full name" mapper writes `name` as a string, and the
/// `name.givenName` / `name.familyName` mappers nest into `name`, which makes
/// Keycloak fail every token of the client. The SCIM client's tokens carry the
/// SCIM-shaped claims of its own mappers instead.
const CONFLICTING_SCOPES: [&str; 1] = ["profile"];

async fn ensure_client_scopes(
    kc: &KcAdmin,
    opts: &BootstrapOptions,
    client_uuid: &str,
    report: &mut Report,
) -> anyhow::Result<()> {
    let attached = if client_uuid.is_empty() {
        Vec::new()
    } else {
        kc.default_client_scopes(&opts.realm, client_uuid).await?
    };
    let conflicting: Vec<_> = attached
        .iter()
        .filter(|(_, name)| CONFLICTING_SCOPES.contains(&name.as_str()))
        .collect();
    if conflicting.is_empty() && !client_uuid.is_empty() {
        report.push("client scopes", Outcome::Unchanged, None);
        return Ok(());
    }
    if !opts.dry_run {
        for (id, _) in &conflicting {
            kc.remove_default_client_scope(&opts.realm, client_uuid, id)
                .await?;
        }
    }
    report.push(
        "client scopes",
        Outcome::Updated,
        Some(
            "detached default scope profile (its name claim collides with name.givenName)"
                .to_owned(),
        ),
    );
    Ok(())
}

/// Ensures the seven mappers; returns the realm's mapper table as it now is.
async fn ensure_mappers(
    kc: &KcAdmin,
    opts: &BootstrapOptions,
    client_uuid: &str,
    report: &mut Report,
) -> anyhow::Result<MapperTable> {
    let mut existing = if client_uuid.is_empty() {
        Vec::new() // dry run of a client that does not exist yet
    } else {
        kc.protocol_mappers(&opts.realm, client_uuid).await?
    };
    for rule in MapperTable::defaults().rules {
        let step = format!("mapper {}", rule.name);
        let found = existing.iter_mut().find(|m| m.name == rule.name);
        let outcome = match found {
            None => {
                let mut mapper = rule.to_kc();
                if !opts.dry_run {
                    mapper.id = Some(
                        kc.create_protocol_mapper(&opts.realm, client_uuid, &mapper)
                            .await?,
                    );
                }
                existing.push(mapper);
                Outcome::Created
            }
            Some(mapper) if rule.matches_kc(mapper) => Outcome::Unchanged,
            Some(mapper) if opts.reset_mappers => {
                let mut restored = rule.to_kc();
                restored.id.clone_from(&mapper.id);
                if !opts.dry_run {
                    kc.update_protocol_mapper(&opts.realm, client_uuid, &restored)
                        .await?;
                }
                *mapper = restored;
                Outcome::Updated
            }
            Some(_) => Outcome::Customized,
        };
        let detail = (outcome == Outcome::Customized)
            .then(|| "differs from the default; kept (use --reset-mappers to restore)".to_owned());
        report.push(step, outcome, detail);
    }
    Ok(MapperTable::from_kc(&existing))
}

/// Declares every SCIM-managed attribute in the realm's user profile, with
/// admin-only view and edit, so Keycloak keeps the values and users cannot
/// change them in the account console.
async fn ensure_user_profile(
    kc: &KcAdmin,
    opts: &BootstrapOptions,
    table: &MapperTable,
    report: &mut Report,
) -> anyhow::Result<()> {
    let mut profile = kc.user_profile(&opts.realm).await?;
    let Some(attributes) = profile.get_mut("attributes").and_then(Value::as_array_mut) else {
        bail!(
            "the user profile of realm {:?} has no attributes list",
            opts.realm
        );
    };
    let mut added = Vec::new();
    for name in declared_attributes(table) {
        let present = attributes
            .iter()
            .any(|a| a.get("name").and_then(Value::as_str) == Some(name.as_str()));
        if !present {
            let stored = fidelity::declared().find(|d| d.name == name);
            let mut declared = json!({
                "name": name,
                "displayName": name,
                "multivalued": stored.is_some_and(|d| d.multivalued),
                "permissions": {"view": ["admin"], "edit": ["admin"]},
                "annotations": {"kc-scim": "managed"},
            });
            if let Some(max) = stored.and_then(|d| d.max_length) {
                declared["validations"] = json!({"length": {"max": max}});
            }
            attributes.push(declared);
            added.push(name);
        }
    }
    // Realms that allow SCIM renames (editUsernameAllowed) would otherwise
    // let users rename themselves: the username is the admin's to edit.
    let username_admin_only = attributes
        .iter_mut()
        .find(|a| a.get("name").and_then(Value::as_str) == Some("username"))
        .is_some_and(|username| {
            let edit = &mut username["permissions"]["edit"];
            if *edit == json!(["admin"]) {
                false
            } else {
                *edit = json!(["admin"]);
                true
            }
        });
    if username_admin_only {
        added.push("username editable by admins only".to_owned());
    }
    if added.is_empty() {
        report.push("user profile", Outcome::Unchanged, None);
        return Ok(());
    }
    if !opts.dry_run {
        kc.update_user_profile(&opts.realm, &profile).await?;
    }
    report.push(
        "user profile",
        Outcome::Updated,
        Some(format!("declared {}", added.join(", "))),
    );
    Ok(())
}

fn apply_setting_options(
    opts: &BootstrapOptions,
    settings: &mut RealmScimSettings,
) -> anyhow::Result<()> {
    if let Some(profile) = opts.profile {
        settings.profile = profile;
    }
    if let Some(tenant) = &opts.tenant_id {
        settings.tenant_id = Some(tenant.clone());
    }
    if settings.profile == Profile::Azure && settings.tenant_id.is_none() {
        bail!("profile azure needs a tenant id: pass --tenant-id");
    }
    Ok(())
}

/// Writes the settings the client lacks and the options asked for. A client
/// without `kcscim.enabled` (made by hand, or by an older version) is
/// enabled: running bootstrap is the operator saying "serve this realm". An
/// explicit `"false"` stays (an admin turned SCIM off).
async fn ensure_settings(
    kc: &KcAdmin,
    opts: &BootstrapOptions,
    client: KcClient,
    report: &mut Report,
) -> anyhow::Result<()> {
    let complete = RealmScimSettings::all_keys_present(&client.attributes);
    let enable = !client.attributes.contains_key(ATTR_ENABLED);
    let apply = |settings: &mut RealmScimSettings| {
        if enable {
            settings.enabled = true;
        }
        apply_setting_options(opts, settings)
    };
    let outcome = |written: bool| match (written, complete) {
        (false, _) => Outcome::Unchanged,
        (true, true) => Outcome::Updated,
        (true, false) => Outcome::Created,
    };
    if opts.dry_run {
        let current = RealmScimSettings::from_attributes(&client.attributes).map_err(|e| {
            anyhow::anyhow!("unreadable SCIM settings on client {SCIM_CLIENT_ID}: {e}")
        })?;
        let mut wanted = current.clone();
        apply(&mut wanted)?;
        let would_write = wanted != current || !complete;
        report.push(
            "scim settings",
            outcome(would_write),
            Some(summary(&wanted)),
        );
        return Ok(());
    }
    // Through the settings owner, so a token created or revoked meanwhile
    // is kept.
    let done = settings_store::update(kc, &opts.realm, apply).await?;
    report.push(
        "scim settings",
        outcome(done.written),
        Some(summary(&done.settings)),
    );
    Ok(())
}

fn summary(s: &RealmScimSettings) -> String {
    format!(
        "enabled={} profile={}{}",
        s.enabled,
        s.profile.as_str(),
        s.tenant_id
            .as_ref()
            .map(|t| format!(" tenant={t}"))
            .unwrap_or_default()
    )
}

/// Only the admin page's steps (sign-in client, `scim-admin` role) for
/// `realm`, with the page at `console_url`: what `serve` ensures at
/// start-up apart from the rest, so a sidecar with run-time roles only
/// (which cannot create clients) still starts.
pub async fn ensure_admin_page(
    kc: &KcAdmin,
    realm: &str,
    console_url: &str,
) -> anyhow::Result<Report> {
    let opts = BootstrapOptions {
        realm: realm.to_owned(),
        console_url: Some(console_url.to_owned()),
        ..BootstrapOptions::default()
    };
    let mut report = Report::default();
    console::ensure_console(kc, &opts, &mut report).await?;
    Ok(report)
}

/// The Tenant URL an admin enters in Entra for `realm`.
#[must_use]
pub fn tenant_url(public_url: &str, realm: &str) -> String {
    format!(
        "{}/realms/{realm}/scim/v2",
        public_url.trim_end_matches('/')
    )
}
