//! Preparing the realms before anything is measured: seeding users with
//! partial imports (`seed`) and switching Keycloak's own SCIM API on for
//! target b (`setup-native`).
//!
//! Invariant: both steps are idempotent (existing users are skipped, an
//! existing client is reused) and stop at the first Admin API call that fails.

use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::{json, Value};

use crate::args::{SeedArgs, SetupNativeArgs};
use crate::tokens::{admin_token, client, Token};

/// Client of realm `b` that holds the SCIM API roles (created by `setup-native`).
pub(crate) const NATIVE_CLIENT: &str = "bench-scim-client";
/// Its secret (a throw-away dev-mode realm on loopback).
pub(crate) const NATIVE_SECRET: &str = "bench-scim-secret";

/// Users per partial import.
const CHUNK: usize = 1000;

/// `seed`: partial import of `--users` users (chunks of 1,000) with the
/// attributes kc-scim maps.
pub(crate) async fn seed(args: &SeedArgs) -> anyhow::Result<bool> {
    let http = seed_client()?;
    let token = admin_token(&http, &args.kc_url).await?;
    seed_range(
        &http,
        &token,
        &args.kc_url,
        &args.realm,
        &args.prefix,
        0..args.users,
    )
    .await?;
    Ok(true)
}

/// The client of partial imports: a thousand users take seconds on a busy
/// machine, tens of seconds on a realm of 100,000.
pub(crate) fn seed_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .context("HTTP client")
}

/// Imports users `range` of `prefix` into `realm`, 1,000 per partial import,
/// skipping those that exist; prints progress every 10,000.
pub(crate) async fn seed_range(
    http: &reqwest::Client,
    token: &Token,
    kc: &str,
    realm: &str,
    prefix: &str,
    range: std::ops::Range<usize>,
) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut i = range.start;
    while i < range.end {
        let end = (i + CHUNK).min(range.end);
        let users: Vec<Value> = (i..end).map(|k| seed_user(prefix, k)).collect();
        let reply = http
            .post(format!("{kc}/admin/realms/{realm}/partialImport"))
            .bearer_auth(token.get())
            .json(&json!({"ifResourceExists": "SKIP", "users": users}))
            .send()
            .await
            .context("partial import not sent")?;
        let status = reply.status();
        if !status.is_success() {
            bail!(
                "partial import: {status} {}",
                reply.text().await.unwrap_or_default()
            );
        }
        i = end;
        if i % 10_000 == 0 && i < range.end {
            eprintln!(
                "seeding {realm}: {i} of {} after {:.0}s",
                range.end,
                t0.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "seeded users {}..{} into {realm} in {:.1}s",
        range.start,
        range.end,
        t0.elapsed().as_secs_f64()
    );
    Ok(())
}

/// User `k` of a seed: what kc-scim would have written for it.
pub(crate) fn seed_user(prefix: &str, k: usize) -> Value {
    json!({
        "username": format!("{prefix}{k:05}@contoso.com"),
        "enabled": true,
        "email": format!("{prefix}{k:05}@mail.contoso.com"),
        "firstName": "Seed",
        "lastName": format!("Fam{k:05}"),
        "attributes": {
            "externalId": [format!("ext-{prefix}{k:05}")],
            "userPrincipalName": [format!("{prefix}{k:05}@Contoso.com")],
            "givenName": ["Seed"],
            "surName": [format!("Fam{k:05}")],
            "isSoftDeleted": ["true"],
            "scimProvisioned": ["true"]
        }
    })
}

/// `setup-native`: switches Keycloak's SCIM API on for the realm and creates
/// a service-account client that may call it (`manage-users`, `view-users`,
/// `query-groups`, `query-users`, and the audience Keycloak checks: the
/// realm's SCIM base URL).
pub(crate) async fn setup_native(args: &SetupNativeArgs) -> anyhow::Result<bool> {
    let (kc, realm) = (&args.kc_url, &args.realm);
    let http = client()?;
    let token = admin_token(&http, kc).await?;
    let admin = |path: &str| format!("{kc}/admin/realms/{realm}{path}");
    let send = |req: reqwest::RequestBuilder| {
        let t = token.get();
        async move {
            let r = req
                .bearer_auth(t)
                .send()
                .await
                .context("admin call not sent")?;
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            if !status.is_success() {
                bail!("admin call: {status} {body}");
            }
            Ok(serde_json::from_str::<Value>(&body).unwrap_or(Value::Null))
        }
    };
    let id_of = |v: &Value, what: &str| {
        v["id"]
            .as_str()
            .map(str::to_owned)
            .with_context(|| format!("no id for {what}"))
    };
    let mut rep = send(http.get(admin(""))).await?;
    rep["scimApiEnabled"] = json!(true);
    send(http.put(admin("")).json(&rep)).await?;
    let by_client_id = admin(&format!("/clients?clientId={NATIVE_CLIENT}"));
    let existing = send(http.get(&by_client_id)).await?;
    if existing.as_array().is_none_or(Vec::is_empty) {
        send(http.post(admin("/clients")).json(&json!({
            "clientId": NATIVE_CLIENT,
            "publicClient": false,
            "secret": NATIVE_SECRET,
            "serviceAccountsEnabled": true,
            "standardFlowEnabled": false,
            "attributes": {"access.token.lifespan": "3600"},
            "protocolMappers": [{
                "name": "scim-audience",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-audience-mapper",
                "config": {
                    "included.custom.audience": format!("{kc}/realms/{realm}/scim/v2"),
                    "access.token.claim": "true"
                }
            }]
        })))
        .await?;
    }
    let cid = id_of(&send(http.get(&by_client_id)).await?[0], "the client")?;
    let sa = id_of(
        &send(http.get(admin(&format!("/clients/{cid}/service-account-user")))).await?,
        "the service account",
    )?;
    let rm = id_of(
        &send(http.get(admin("/clients?clientId=realm-management"))).await?[0],
        "realm-management",
    )?;
    let roles: Vec<Value> = send(http.get(admin(&format!("/clients/{rm}/roles"))))
        .await?
        .as_array()
        .context("realm-management roles are not a list")?
        .iter()
        .filter(|r| {
            matches!(
                r["name"].as_str(),
                Some("manage-users" | "view-users" | "query-groups" | "query-users")
            )
        })
        .cloned()
        .collect();
    send(
        http.post(admin(&format!("/users/{sa}/role-mappings/clients/{rm}")))
            .json(&roles),
    )
    .await?;
    eprintln!("Keycloak SCIM API enabled on realm {realm} (client {NATIVE_CLIENT})");
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_user_carries_the_attributes_kc_scim_maps() {
        let u = seed_user("seed", 42);
        assert_eq!(u["username"], "seed00042@contoso.com");
        assert_eq!(u["email"], "seed00042@mail.contoso.com");
        assert_eq!(u["attributes"]["externalId"][0], "ext-seed00042");
        assert_eq!(
            u["attributes"]["userPrincipalName"][0],
            "seed00042@Contoso.com"
        );
        assert_eq!(u["attributes"]["surName"][0], "Fam00042");
        assert_eq!(u["lastName"], "Fam00042");
        // As if kc-scim had created it: SCIM may write it.
        assert_eq!(u["attributes"]["scimProvisioned"][0], "true");
    }
}
