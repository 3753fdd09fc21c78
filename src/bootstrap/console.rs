//! The admin page's pieces in a realm: the public OIDC client
//! `scim-admin-console` (authorization code with PKCE S256 only, redirect
//! URI exactly the page's callback, sign-out back to the page) and the
//! realm role `scim-admin` that lets a user in.
//!
//! Invariant: the client is kc-scim's own, so a differing one is put back
//! (`updated`); the role is created once and made to include
//! `realm-management/query-groups` (so SCIM never writes its holders); an
//! admin assigns it.

use serde_json::{json, Value};

use super::{BootstrapOptions, Outcome, Report};
use crate::keycloak::{KcAdmin, KcClient, KcRole, RoleScope};
use crate::mapping::{admin_page_path, CONSOLE_CLIENT_ID, SCIM_ADMIN_ROLE};

/// Client attribute: the PKCE method Keycloak requires of the client.
const ATTR_PKCE: &str = "pkce.code.challenge.method";
/// Client attribute: where Keycloak may send the browser after sign-out.
const ATTR_POST_LOGOUT: &str = "post.logout.redirect.uris";

/// The page of `realm` below `base`, its sign-in callback and where
/// Keycloak sends the browser after sign-out.
#[must_use]
pub fn console_urls(base: &str, realm: &str) -> (String, String, String) {
    let page = format!("{}{}", base.trim_end_matches('/'), admin_page_path(realm));
    let callback = format!("{page}callback");
    let signed_out = format!("{page}signed-out");
    (page, callback, signed_out)
}

/// The client as bootstrap wants it.
fn console_client(signed_out: &str, callback: &str) -> KcClient {
    let mut client = KcClient {
        client_id: CONSOLE_CLIENT_ID.to_owned(),
        name: Some("SCIM admin page".to_owned()),
        description: Some("Managed by kc-scim: sign-in of the Integrations → SCIM page".to_owned()),
        enabled: Some(true),
        protocol: Some("openid-connect".to_owned()),
        public_client: Some(true),
        service_accounts_enabled: Some(false),
        standard_flow_enabled: Some(true),
        implicit_flow_enabled: Some(false),
        direct_access_grants_enabled: Some(false),
        ..KcClient::default()
    };
    client
        .attributes
        .insert(ATTR_PKCE.to_owned(), "S256".to_owned());
    client
        .attributes
        .insert(ATTR_POST_LOGOUT.to_owned(), signed_out.to_owned());
    client
        .extra
        .insert("redirectUris".to_owned(), json!([callback]));
    client.extra.insert("webOrigins".to_owned(), json!([]));
    client
}

/// Whether `existing` signs in exactly as `wanted` does.
fn same_sign_in(existing: &KcClient, wanted: &KcClient) -> bool {
    existing.public_client == wanted.public_client
        && existing.standard_flow_enabled == wanted.standard_flow_enabled
        && existing.implicit_flow_enabled == wanted.implicit_flow_enabled
        && existing.direct_access_grants_enabled == wanted.direct_access_grants_enabled
        && existing.service_accounts_enabled == wanted.service_accounts_enabled
        && existing.enabled == wanted.enabled
        && [ATTR_PKCE, ATTR_POST_LOGOUT]
            .iter()
            .all(|k| existing.attributes.get(*k) == wanted.attributes.get(*k))
        && existing.extra.get("redirectUris") == wanted.extra.get("redirectUris")
}

/// Ensures the console client and the `scim-admin` role when the options
/// name the page's public base URL.
pub(super) async fn ensure_console(
    kc: &KcAdmin,
    opts: &BootstrapOptions,
    report: &mut Report,
) -> anyhow::Result<()> {
    let Some(base) = &opts.console_url else {
        return Ok(());
    };
    let (_, callback, signed_out) = console_urls(base, &opts.realm);
    let wanted = console_client(&signed_out, &callback);
    let step = format!("client {CONSOLE_CLIENT_ID}");
    match kc.find_client(&opts.realm, CONSOLE_CLIENT_ID).await? {
        None => {
            if !opts.dry_run {
                kc.create_client(&opts.realm, &wanted).await?;
            }
            report.push(step, Outcome::Created, Some(format!("redirect {callback}")));
        }
        Some(existing) if same_sign_in(&existing, &wanted) => {
            report.push(step, Outcome::Unchanged, None);
        }
        Some(mut existing) => {
            existing.public_client = wanted.public_client;
            existing.standard_flow_enabled = wanted.standard_flow_enabled;
            existing.implicit_flow_enabled = wanted.implicit_flow_enabled;
            existing.direct_access_grants_enabled = wanted.direct_access_grants_enabled;
            existing.service_accounts_enabled = wanted.service_accounts_enabled;
            existing.enabled = wanted.enabled;
            for key in [ATTR_PKCE, ATTR_POST_LOGOUT] {
                if let Some(v) = wanted.attributes.get(key) {
                    existing.attributes.insert(key.to_owned(), v.clone());
                }
            }
            existing.extra.insert(
                "redirectUris".to_owned(),
                wanted
                    .extra
                    .get("redirectUris")
                    .cloned()
                    .unwrap_or(Value::Null),
            );
            if !opts.dry_run {
                let id = existing.id.clone().unwrap_or_default();
                kc.update_client(&opts.realm, &id, &existing).await?;
            }
            report.push(step, Outcome::Updated, Some(format!("redirect {callback}")));
        }
    }
    let step = format!("role {SCIM_ADMIN_ROLE}");
    if kc.realm_role(&opts.realm, SCIM_ADMIN_ROLE).await?.is_some() {
        report.push(step, Outcome::Unchanged, None);
    } else {
        if !opts.dry_run {
            let role = KcRole {
                name: SCIM_ADMIN_ROLE.to_owned(),
                description: Some("May use the realm's SCIM admin page".to_owned()),
                ..KcRole::default()
            };
            kc.create_realm_role(&opts.realm, &role).await?;
        }
        report.push(step, Outcome::Created, None);
    }
    ensure_protected_role(kc, opts, report).await
}

/// The `realm-management` role `scim-admin` includes, so that SCIM's
/// admin-role check (any `realm-management` role, composites expanded)
/// makes every holder of `scim-admin` — and every group granting it —
/// read-only to SCIM: otherwise a SCIM client could add itself a user to
/// such a group and sign in to the page that resets its own breaker.
/// `query-groups` is the least of those roles.
pub(super) const SCIM_ADMIN_INCLUDES: &str = "query-groups";

async fn ensure_protected_role(
    kc: &KcAdmin,
    opts: &BootstrapOptions,
    report: &mut Report,
) -> anyhow::Result<()> {
    let step = format!("role {SCIM_ADMIN_ROLE} includes realm-management/{SCIM_ADMIN_INCLUDES}");
    let Some(rm) = kc.find_client(&opts.realm, "realm-management").await? else {
        anyhow::bail!("realm {} has no realm-management client", opts.realm);
    };
    let rm_id = rm.id.unwrap_or_default();
    let role = kc
        .roles(&opts.realm, RoleScope::Client(&rm_id))
        .await?
        .into_iter()
        .find(|r| r.name == SCIM_ADMIN_INCLUDES)
        .ok_or_else(|| anyhow::anyhow!("realm-management has no role {SCIM_ADMIN_INCLUDES}"))?;
    let included = if kc.realm_role(&opts.realm, SCIM_ADMIN_ROLE).await?.is_some() {
        kc.realm_role_composites(&opts.realm, SCIM_ADMIN_ROLE)
            .await?
    } else {
        Vec::new() // a dry run: the role is not there yet
    };
    if included.iter().any(|r| r.id.is_some() && r.id == role.id) {
        report.push(step, Outcome::Unchanged, None);
        return Ok(());
    }
    if !opts.dry_run {
        kc.add_realm_role_composites(&opts.realm, SCIM_ADMIN_ROLE, &[role])
            .await?;
    }
    report.push(step, Outcome::Updated, None);
    Ok(())
}

/// The step names [`ensure_console`] reports.
pub(super) fn console_steps() -> [String; 3] {
    [
        format!("client {CONSOLE_CLIENT_ID}"),
        format!("role {SCIM_ADMIN_ROLE}"),
        format!("role {SCIM_ADMIN_ROLE} includes realm-management/{SCIM_ADMIN_INCLUDES}"),
    ]
}
