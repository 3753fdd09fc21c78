//! `kc-scim doctor --realm R`: the product guide's validation checklist made
//! executable. Each item prints one line, `ok` or `FAIL` with the reason, in
//! the order an admin would fix them: Keycloak reachable, admin token, realm,
//! client, the seven mappers, user-profile declarations, SCIM enabled,
//! profile and tenant id, a usable credential, the passkey sign-in (browser
//! flow bound, registration action enabled, SMTP for the onboarding email),
//! and finally Entra's Test Connection sent through the running sidecar.
//!
//! Invariants: doctor changes nothing, except that without `--token` it
//! issues a static token valid for one day for the last check and revokes
//! it before returning; no secret is printed or logged; the command fails
//! (exit 1) unless every item passed.

use std::fmt::Write as _;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;

use crate::bootstrap::tokens;
use crate::bootstrap::{
    flow_shape, FlowShape, FLOW_ALIAS, PASSKEYS_SWITCH, REGISTER_PASSKEY_ACTION,
};
use crate::config::Settings;
use crate::keycloak::{outbound_client, KcAdmin, KcClient};
use crate::mapping::{
    declared_attributes, MapperTable, Onboarding, Profile, RealmScimSettings, SCIM_CLIENT_ID,
};
use crate::realm::RealmName;

/// What to check.
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// The realm.
    pub realm: RealmName,
    /// Base URL of the running sidecar (`http://host:port`); default from `http.bind`.
    pub scim_url: Option<String>,
    /// Bearer token for the SCIM request; issued (and revoked) when absent.
    pub token: Option<SecretString>,
}

/// One item of the checklist: passed or not, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckRow {
    /// What is checked, e.g. `seven mappers present`.
    pub item: &'static str,
    /// Whether it passed.
    pub ok: bool,
    /// A note on a pass, the reason of a failure.
    pub detail: Option<String>,
}

/// The checklist's rows, in order; the command line prints them, the admin
/// page renders them.
#[derive(Debug, Default, Clone)]
pub struct Checklist {
    /// Every item, in the order an admin would fix them.
    pub rows: Vec<CheckRow>,
}

impl Checklist {
    fn ok(&mut self, item: &'static str, note: Option<String>) {
        self.rows.push(CheckRow {
            item,
            ok: true,
            detail: note,
        });
    }

    fn fail(&mut self, item: &'static str, reason: impl std::fmt::Display) {
        self.rows.push(CheckRow {
            item,
            ok: false,
            detail: Some(reason.to_string()),
        });
    }

    fn record(&mut self, item: &'static str, result: Result<Option<String>, String>) -> bool {
        match result {
            Ok(note) => {
                self.ok(item, note);
                true
            }
            Err(reason) => {
                self.fail(item, reason);
                false
            }
        }
    }

    fn skip(&mut self, items: &[&'static str], because: &str) {
        for item in items {
            self.fail(item, format!("not checked ({because} failed)"));
        }
    }

    /// Whether every item passed.
    #[must_use]
    pub fn all_passed(&self) -> bool {
        self.rows.iter().all(|r| r.ok)
    }

    /// The row of `item`.
    #[must_use]
    pub fn row(&self, item: &str) -> Option<&CheckRow> {
        self.rows.iter().find(|r| r.item == item)
    }
}

pub const ITEM_REACHABLE: &str = "keycloak reachable";
pub const ITEM_TOKEN: &str = "admin token valid";
pub const ITEM_REALM: &str = "realm exists";
pub const ITEM_CLIENT: &str = "client scim-endpoint present";
pub const ITEM_FLOWS: &str = "client credentials only";
pub const ITEM_MAPPERS: &str = "seven mappers present";
pub const ITEM_PROFILE_ATTRS: &str = "user-profile attributes declared";
pub const ITEM_ENABLED: &str = "scim enabled";
pub const ITEM_SETTINGS: &str = "profile and tenant id";
pub const ITEM_CREDENTIAL: &str = "usable credential";
pub const ITEM_PASSKEY_FLOW: &str = "passkey browser flow bound";
pub const ITEM_REGISTER_ACTION: &str = "passkey registration action enabled";
pub const ITEM_SMTP: &str = "smtp for onboarding emails";
pub const ITEM_REQUEST: &str = "scim request (test connection)";

const AFTER_CLIENT: [&str; 10] = [
    ITEM_FLOWS,
    ITEM_MAPPERS,
    ITEM_PROFILE_ATTRS,
    ITEM_ENABLED,
    ITEM_SETTINGS,
    ITEM_CREDENTIAL,
    ITEM_PASSKEY_FLOW,
    ITEM_REGISTER_ACTION,
    ITEM_SMTP,
    ITEM_REQUEST,
];

/// Runs the checklist and prints it; `Err` when any item failed. `kc` is
/// the admin client as the caller could build it (its error is the admin
/// token item's failure).
pub async fn run(
    settings: &Settings,
    kc: anyhow::Result<KcAdmin>,
    opts: &DoctorOptions,
) -> anyhow::Result<()> {
    let list = checklist(settings, kc, opts).await;
    for row in &list.rows {
        match (row.ok, &row.detail) {
            (true, Some(n)) => println!("ok   {} ({n})", row.item),
            (true, None) => println!("ok   {}", row.item),
            (false, reason) => println!("FAIL {}: {}", row.item, reason.as_deref().unwrap_or("")),
        }
    }
    let failed: Vec<&str> = list.rows.iter().filter(|r| !r.ok).map(|r| r.item).collect();
    if failed.is_empty() {
        println!(
            "all {} checks passed for realm {}",
            list.rows.len(),
            opts.realm
        );
        Ok(())
    } else {
        anyhow::bail!(
            "{} of {} checks failed: {}",
            failed.len(),
            list.rows.len(),
            failed.join(", ")
        )
    }
}

/// Runs every check and returns the rows (the admin page renders them).
pub async fn checklist(
    settings: &Settings,
    kc: anyhow::Result<KcAdmin>,
    opts: &DoctorOptions,
) -> Checklist {
    let mut list = Checklist::default();
    check_all(settings, kc, opts, &mut list).await;
    list
}

async fn check_all(
    settings: &Settings,
    kc: anyhow::Result<KcAdmin>,
    opts: &DoctorOptions,
    list: &mut Checklist,
) {
    let realm = opts.realm.as_str();
    if !list.record(ITEM_REACHABLE, reachable(settings).await) {
        let mut rest = vec![ITEM_TOKEN, ITEM_REALM, ITEM_CLIENT];
        rest.extend(AFTER_CLIENT);
        list.skip(&rest, ITEM_REACHABLE);
        return;
    }
    let kc = match kc {
        Ok(kc) => kc,
        Err(e) => {
            list.fail(ITEM_TOKEN, format!("{e:#}"));
            let mut rest = vec![ITEM_REALM, ITEM_CLIENT];
            rest.extend(AFTER_CLIENT);
            list.skip(&rest, ITEM_TOKEN);
            return;
        }
    };
    let token_ok = kc
        .check_token()
        .await
        .map(|()| None)
        .map_err(|e| e.to_string());
    if !list.record(ITEM_TOKEN, token_ok) {
        let mut rest = vec![ITEM_REALM, ITEM_CLIENT];
        rest.extend(AFTER_CLIENT);
        list.skip(&rest, ITEM_TOKEN);
        return;
    }
    let realm_ok = match kc.get_realm(realm).await {
        Ok(Some(_)) => Ok(None),
        Ok(None) => Err(format!("no realm {realm:?}")),
        Err(e) => Err(e.to_string()),
    };
    if !list.record(ITEM_REALM, realm_ok) {
        let mut rest = vec![ITEM_CLIENT];
        rest.extend(AFTER_CLIENT);
        list.skip(&rest, ITEM_REALM);
        return;
    }
    let client = match kc.find_client(realm, SCIM_CLIENT_ID).await {
        Ok(Some(c)) => c,
        Ok(None) => {
            list.fail(
                ITEM_CLIENT,
                format!("no client {SCIM_CLIENT_ID}: run kc-scim bootstrap --realm {realm}"),
            );
            list.skip(&AFTER_CLIENT, ITEM_CLIENT);
            return;
        }
        Err(e) => {
            list.fail(ITEM_CLIENT, e);
            list.skip(&AFTER_CLIENT, ITEM_CLIENT);
            return;
        }
    };
    list.ok(ITEM_CLIENT, None);
    check_client(settings, opts, &kc, &client, list).await;
}

async fn check_client(
    settings: &Settings,
    opts: &DoctorOptions,
    kc: &KcAdmin,
    client: &KcClient,
    list: &mut Checklist,
) {
    let realm = opts.realm.as_str();
    let uuid = client.id.clone().unwrap_or_default();
    let flows = crate::bootstrap::user_flows_on(client);
    let flows = if flows.is_empty() {
        Ok(None)
    } else {
        Err(format!(
            "{} on: a user's token of {SCIM_CLIENT_ID} would reach SCIM; run kc-scim bootstrap --realm {realm} to turn them off",
            flows.join(", ")
        ))
    };
    list.record(ITEM_FLOWS, flows);
    let table = match kc.protocol_mappers(realm, &uuid).await {
        Ok(mappers) => {
            list.record(ITEM_MAPPERS, mappers_result(&mappers));
            Some(MapperTable::from_kc(&mappers))
        }
        Err(e) => {
            list.fail(ITEM_MAPPERS, e);
            None
        }
    };
    match table {
        Some(table) => {
            let declared = user_profile_result(kc, realm, &table).await;
            list.record(ITEM_PROFILE_ATTRS, declared);
        }
        None => list.skip(&[ITEM_PROFILE_ATTRS], ITEM_MAPPERS),
    }
    let scim = match RealmScimSettings::from_attributes(&client.attributes) {
        Ok(s) => s,
        Err(e) => {
            let reason = format!("unreadable SCIM settings: {e}");
            for item in [ITEM_ENABLED, ITEM_SETTINGS, ITEM_CREDENTIAL, ITEM_REQUEST] {
                list.fail(item, &reason);
            }
            list.skip(
                &[ITEM_PASSKEY_FLOW, ITEM_REGISTER_ACTION, ITEM_SMTP],
                ITEM_SETTINGS,
            );
            return;
        }
    };
    let enabled = if scim.enabled {
        Ok(None)
    } else {
        Err(format!(
            "SCIM is disabled: kc-scim realm set --realm {realm} --enabled true"
        ))
    };
    list.record(ITEM_ENABLED, enabled);
    list.record(ITEM_SETTINGS, settings_result(&scim));
    list.record(ITEM_CREDENTIAL, credential_result(&scim));
    check_passkey_sign_in(kc, realm, &scim, list).await;
    let request = test_connection(settings, opts, kc).await;
    list.record(ITEM_REQUEST, request);
}

/// The sign-in side: the passkey flow bound as the browser flow, the
/// passkey registration action enabled, and an SMTP server for the
/// onboarding email (a failure only when onboarding is `email`; otherwise
/// noted).
async fn check_passkey_sign_in(
    kc: &KcAdmin,
    realm: &str,
    scim: &RealmScimSettings,
    list: &mut Checklist,
) {
    let representation = match kc.get_realm(realm).await {
        Ok(Some(r)) => r.extra,
        Ok(None) => {
            list.skip(
                &[ITEM_PASSKEY_FLOW, ITEM_REGISTER_ACTION, ITEM_SMTP],
                ITEM_REALM,
            );
            return;
        }
        Err(e) => {
            for item in [ITEM_PASSKEY_FLOW, ITEM_REGISTER_ACTION, ITEM_SMTP] {
                list.fail(item, &e);
            }
            return;
        }
    };
    let fix = format!("kc-scim bootstrap --realm {realm} --passwordless-flow");
    let bound = representation.get("browserFlow").and_then(Value::as_str);
    let passkeys = representation.get(PASSKEYS_SWITCH).and_then(Value::as_bool) == Some(true);
    let flow = if bound == Some(FLOW_ALIAS) {
        match flow_shape(kc, realm).await {
            Ok(FlowShape::Current) if passkeys => Ok(None),
            Ok(FlowShape::Current) => Err(format!(
                "{PASSKEYS_SWITCH} is off: the sign-in page offers no passkey autofill or \"Sign in with Passkey\", only username then passkey; {fix}"
            )),
            Ok(FlowShape::Previous) => Err(format!(
                "{FLOW_ALIAS} is bound in its earlier shape (the passkey button only, no username then passkey); {fix} updates it"
            )),
            Ok(_) => Err(format!(
                "{FLOW_ALIAS} is bound but differs from the passkey-only flow (a password step, or a changed requirement or condition)"
            )),
            Err(e) => Err(e.to_string()),
        }
    } else {
        Err(format!(
            "the browser flow is {:?}, not {FLOW_ALIAS}: provisioned users (no password) cannot sign in; {fix}",
            bound.unwrap_or("(none)")
        ))
    };
    // A realm that binds the passkey flow or emails passkey links needs
    // both; any other signs users in some other way.
    let required = bound == Some(FLOW_ALIAS) || scim.onboarding == Onboarding::Email;
    list.record(ITEM_PASSKEY_FLOW, passkey_requirement(flow, required));
    let action = match kc.required_action(realm, REGISTER_PASSKEY_ACTION).await {
        Ok(Some(a)) if a.get("enabled").and_then(Value::as_bool) == Some(true) => Ok(None),
        Ok(_) => Err(format!("{REGISTER_PASSKEY_ACTION} is not enabled: {fix}")),
        Err(e) => Err(e.to_string()),
    };
    list.record(ITEM_REGISTER_ACTION, passkey_requirement(action, required));
    list.record(
        ITEM_SMTP,
        smtp_result(&representation, scim.onboarding, realm),
    );
}

/// A passkey check's verdict: a realm that binds the passkey flow or emails
/// passkey links (`required`) needs the flow and the action, so a miss
/// fails; any other realm may sign users in another way (an identity
/// provider, say), so a miss is reported, not failed.
fn passkey_requirement(
    found: Result<Option<String>, String>,
    required: bool,
) -> Result<Option<String>, String> {
    match found {
        Err(why) if !required => Ok(Some(format!(
            "not required (the realm neither binds {FLOW_ALIAS} nor onboards by email), but users without a password cannot sign in: {why}"
        ))),
        other => other,
    }
}

/// Whether the realm can send the onboarding email.
fn smtp_result(
    representation: &serde_json::Map<String, Value>,
    onboarding: Onboarding,
    realm: &str,
) -> Result<Option<String>, String> {
    let host = representation
        .get("smtpServer")
        .and_then(|s| s.get("host"))
        .and_then(Value::as_str)
        .filter(|h| !h.trim().is_empty());
    match (host, onboarding) {
        (Some(host), _) => Ok(Some(format!("{host}, onboarding {}", onboarding.as_str()))),
        (None, Onboarding::Email) => Err(format!(
            "no SMTP server in realm {realm}: the onboarding email cannot be sent (Realm settings → Email)"
        )),
        (None, Onboarding::None) => Ok(Some(
            "no SMTP server; onboarding is none (set one before realm set --onboarding email)".to_owned(),
        )),
    }
}

async fn reachable(settings: &Settings) -> Result<Option<String>, String> {
    let http = outbound_client(
        std::time::Duration::from_millis(settings.keycloak.timeout_ms),
        std::time::Duration::from_millis(settings.keycloak.connect_timeout_ms),
    )
    .map_err(|e| e.to_string())?;
    let url = format!(
        "{}/realms/{}/.well-known/openid-configuration",
        settings.keycloak.url.trim_end_matches('/'),
        settings.keycloak.admin_realm
    );
    let response = http
        .get(&url)
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    if response.status().is_success() {
        Ok(Some(settings.keycloak.url.clone()))
    } else {
        Err(format!("{url} answered {}", response.status()))
    }
}

fn mappers_result(mappers: &[crate::keycloak::KcProtocolMapper]) -> Result<Option<String>, String> {
    let mut missing = Vec::new();
    let mut customised = Vec::new();
    for rule in MapperTable::defaults().rules {
        match mappers.iter().find(|m| m.name == rule.name) {
            None => missing.push(rule.name),
            Some(m) if !rule.matches_kc(m) => customised.push(rule.name),
            Some(_) => {}
        }
    }
    let customised_note =
        (!customised.is_empty()).then(|| format!("customised: {}", customised.join(", ")));
    if missing.is_empty() {
        return Ok(customised_note);
    }
    let mut reason = format!(
        "missing: {} (kc-scim bootstrap creates them)",
        missing.join(", ")
    );
    if let Some(note) = customised_note {
        let _ = write!(reason, "; {note}");
    }
    Err(reason)
}

async fn user_profile_result(
    kc: &KcAdmin,
    realm: &str,
    table: &MapperTable,
) -> Result<Option<String>, String> {
    let profile = kc.user_profile(realm).await.map_err(|e| e.to_string())?;
    let names: Vec<&str> = profile
        .get("attributes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("name").and_then(Value::as_str))
        .collect();
    let undeclared: Vec<String> = declared_attributes(table)
        .into_iter()
        .filter(|n| !names.contains(&n.as_str()))
        .collect();
    if undeclared.is_empty() {
        Ok(None)
    } else {
        Err(format!(
            "not declared: {} (Keycloak drops undeclared attributes; kc-scim bootstrap declares them)",
            undeclared.join(", ")
        ))
    }
}

fn settings_result(s: &RealmScimSettings) -> Result<Option<String>, String> {
    match (s.profile, &s.tenant_id) {
        (Profile::Azure, None) => Err(
            "profile azure without a tenant id: kc-scim realm set --tenant-id <Entra Tenant ID>"
                .to_owned(),
        ),
        (Profile::Azure, Some(t)) => Ok(Some(format!("azure, tenant {t}"))),
        (Profile::Generic, _) => Ok(Some("generic".to_owned())),
    }
}

fn credential_result(s: &RealmScimSettings) -> Result<Option<String>, String> {
    let now = chrono::Utc::now();
    let active = s.tokens.iter().filter(|t| t.is_active(now)).count();
    let entra = s.profile == Profile::Azure && s.tenant_id.is_some();
    match (active, entra) {
        (0, false) => Err(
            "no unexpired static token and no Entra tenant: kc-scim token create --realm …"
                .to_owned(),
        ),
        (n, true) => Ok(Some(format!(
            "{n} static token(s), Entra tokens of the tenant"
        ))),
        (n, false) => Ok(Some(format!("{n} static token(s)"))),
    }
}

/// The sidecar's base URL from `http.bind` (an unspecified address is
/// reached on loopback).
fn default_scim_url(settings: &Settings) -> Result<String, String> {
    let bind: std::net::SocketAddr = settings
        .http
        .bind
        .parse()
        .map_err(|e| format!("http.bind {:?}: {e}", settings.http.bind))?;
    let host = match bind.ip() {
        ip if ip.is_unspecified() => "127.0.0.1".to_owned(),
        std::net::IpAddr::V6(ip) => format!("[{ip}]"),
        std::net::IpAddr::V4(ip) => ip.to_string(),
    };
    Ok(format!("http://{host}:{}", bind.port()))
}

/// Entra's Test Connection through the running sidecar, with the given
/// token or a one-day token issued for it and revoked afterwards.
async fn test_connection(
    settings: &Settings,
    opts: &DoctorOptions,
    kc: &KcAdmin,
) -> Result<Option<String>, String> {
    let base = match &opts.scim_url {
        Some(u) => u.trim_end_matches('/').to_owned(),
        None => default_scim_url(settings)?,
    };
    let realm = opts.realm.as_str();
    let (secret, issued) = if let Some(t) = &opts.token {
        (t.clone(), None)
    } else {
        let (stored, secret) = tokens::create_token(kc, realm, Some(1))
            .await
            .map_err(|e| format!("cannot issue a token for the check: {e:#}"))?;
        (SecretString::from(secret), Some(stored.id))
    };
    let mut result = send_test_connection(&base, realm, &secret).await;
    // A replica that refreshed its settings for an unknown token less than
    // a refresh interval ago does not know the token just issued yet: it
    // does after the interval (once more, in case a replica behind a load
    // balancer answered).
    for _ in 0..2 {
        let unknown_yet =
            issued.is_some() && result.as_ref().is_err_and(|e| e.contains("answered 401"));
        if !unknown_yet {
            break;
        }
        tokio::time::sleep(
            crate::auth::SETTINGS_REFRESH_INTERVAL + std::time::Duration::from_millis(100),
        )
        .await;
        result = send_test_connection(&base, realm, &secret).await;
    }
    if let Some(id) = issued {
        if let Err(e) = tokens::revoke_token(kc, realm, &id).await {
            return Err(format!(
                "the token {id} issued for the check could not be revoked: {e:#}"
            ));
        }
    }
    result
}

async fn send_test_connection(
    base: &str,
    realm: &str,
    token: &SecretString,
) -> Result<Option<String>, String> {
    let guid = uuid::Uuid::new_v4();
    let url = format!("{base}/realms/{realm}/scim/v2/Users");
    let http = outbound_client(
        std::time::Duration::from_secs(15),
        std::time::Duration::from_secs(3),
    )
    .map_err(|e| e.to_string())?;
    let response = http
        .get(&url)
        .query(&[("filter", format!("userName eq \"{guid}\""))])
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .map_err(|e| format!("{url}: {e}"))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .context("the response is not JSON")
        .map_err(|e| format!("{url} answered {status}: {e:#}"))?;
    if status.as_u16() != 200 {
        let detail = body.get("detail").and_then(Value::as_str).unwrap_or("");
        return Err(format!("{url} answered {status}: {detail}"));
    }
    let empty = body.get("totalResults").and_then(Value::as_u64) == Some(0)
        && body
            .get("Resources")
            .and_then(Value::as_array)
            .is_some_and(Vec::is_empty);
    if empty {
        Ok(Some(url))
    } else {
        Err(format!(
            "{url} answered 200 but not an empty ListResponse for a random userName"
        ))
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_missing_passkey_step_fails_only_a_realm_that_uses_passkeys() {
        let missing = || Err("the browser flow is \"browser\"".to_owned());
        assert!(passkey_requirement(missing(), true).is_err());
        let noted = passkey_requirement(missing(), false).expect("reported, not failed");
        assert!(noted.is_some_and(|n| n.contains("not required") && n.contains("\"browser\"")));
        assert_eq!(passkey_requirement(Ok(None), true), Ok(None));
    }

    use super::*;
    use crate::mapping::StoredToken;

    fn token(expires: Option<&str>) -> StoredToken {
        StoredToken {
            id: "t".to_owned(),
            sha256: "00".repeat(32),
            created: "2026-01-01T00:00:00Z".to_owned(),
            expires: expires.map(str::to_owned),
        }
    }

    #[test]
    fn missing_smtp_fails_only_when_onboarding_sends_email() {
        let none = serde_json::Map::new();
        let mut with = serde_json::Map::new();
        with.insert(
            "smtpServer".to_owned(),
            serde_json::json!({"host": "mail.example.com"}),
        );
        assert!(smtp_result(&none, Onboarding::Email, "r").is_err());
        let noted = smtp_result(&none, Onboarding::None, "r").expect("not a failure");
        assert!(noted.is_some_and(|n| n.contains("no SMTP server")));
        assert!(smtp_result(&with, Onboarding::Email, "r").is_ok());
    }

    #[test]
    fn an_expired_token_is_not_a_usable_credential() {
        let s = RealmScimSettings {
            tokens: vec![token(Some("2000-01-01T00:00:00Z"))],
            ..RealmScimSettings::default()
        };
        assert!(credential_result(&s).is_err());
        let s = RealmScimSettings {
            tokens: vec![token(None)],
            ..RealmScimSettings::default()
        };
        assert!(credential_result(&s).is_ok());
    }

    #[test]
    fn azure_with_a_tenant_is_a_usable_credential_and_without_one_a_failure() {
        let with = RealmScimSettings {
            profile: Profile::Azure,
            tenant_id: Some("t".to_owned()),
            ..RealmScimSettings::default()
        };
        assert!(credential_result(&with).is_ok());
        assert!(settings_result(&with).is_ok());
        let without = RealmScimSettings {
            profile: Profile::Azure,
            ..RealmScimSettings::default()
        };
        assert!(settings_result(&without).is_err());
    }

    #[test]
    fn a_missing_mapper_is_named_and_a_customised_one_only_noted() {
        let mut mappers: Vec<_> = MapperTable::defaults()
            .rules
            .iter()
            .map(crate::mapping::MapperRule::to_kc)
            .collect();
        assert_eq!(mappers_result(&mappers), Ok(None));
        mappers[0]
            .config
            .insert("claim.name".to_owned(), "other".to_owned());
        assert_eq!(
            mappers_result(&mappers),
            Ok(Some("customised: status".to_owned()))
        );
        mappers.retain(|m| m.name != "tag");
        let err = mappers_result(&mappers).expect_err("tag missing");
        assert!(err.contains("missing: tag"), "{err}");
    }

    #[test]
    fn the_default_url_reaches_an_unspecified_bind_on_loopback() {
        let mut s = Settings::default();
        s.http.bind = "0.0.0.0:8090".to_owned();
        assert_eq!(default_scim_url(&s), Ok("http://127.0.0.1:8090".to_owned()));
    }
}
