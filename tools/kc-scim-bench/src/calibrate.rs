//! Keycloak Admin API calls per SCIM request of kc-scim, counted on a second,
//! in-process server built from the library (`startup::Application`) against
//! the same Keycloak and realm, since the measured process exposes no counter.
//!
//! Invariant: requests go one at a time after a warm-up, and each count is
//! the difference of `KcAdmin::stats()` just before and just after one
//! request, so no other request is ever counted with it.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::{anyhow, Context};
use reqwest::Method as M;
use serde_json::json;

use crate::args::RunArgs;
use crate::targets::{enc, patch_body, timed, Ctx, Op, Target, PAGE};
use crate::tokens::admin_credentials;

/// Totals of one request kind: calls, writes, requests.
type Totals = (u64, u64, usize);

/// Mean calls and writes per request kind (`create` derived as sync − lookup).
#[allow(clippy::cast_precision_loss)]
pub(crate) async fn calibrate(
    args: &RunArgs,
    ctx: &Arc<Ctx>,
    run_id: &str,
) -> anyhow::Result<BTreeMap<&'static str, (f64, f64)>> {
    let (username, password) = admin_credentials();
    let env = vec![
        ("KCSCIM_KEYCLOAK__URL".to_owned(), ctx.kc.clone()),
        ("KCSCIM_KEYCLOAK__USERNAME".to_owned(), username),
        ("KCSCIM_KEYCLOAK__PASSWORD".to_owned(), password),
        ("KCSCIM_HTTP__BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("KCSCIM_HTTP__WORKERS".to_owned(), "1".to_owned()),
    ];
    let settings = kc_scim::config::Settings::load_from(None, env)
        .map_err(|e| anyhow!("settings of the in-process server: {e}"))?;
    let app = kc_scim::startup::Application::build(&settings)
        .await
        .context("in-process server")?;
    let port = app.port();
    let directory = app.directory();
    tokio::spawn(app.run_until_stopped());
    let local = Arc::new(Ctx {
        http: ctx.http.clone(),
        kc: ctx.kc.clone(),
        scim_a: format!("http://127.0.0.1:{port}/realms/{}/scim/v2", ctx.realm_a),
        token_a: ctx.token_a.clone(),
        scim_b: ctx.scim_b.clone(),
        token_b: ctx.token_b.clone(),
        realm_a: ctx.realm_a.clone(),
        admin: ctx.admin.clone(),
    });
    let stats = directory.admin().stats().clone();
    let n = args.calibrate;
    let mut totals: BTreeMap<&'static str, Totals> = BTreeMap::new();
    let mut count = |key: &'static str, (c0, w0): (u64, u64), (c1, w1): (u64, u64)| {
        let e = totals.entry(key).or_default();
        e.0 += c1 - c0;
        e.1 += w1 - w0;
        e.2 += 1;
    };
    let now = || (stats.calls(), stats.writes());
    let gid = local
        .create_group(Target::A, &format!("bench-{run_id}-calls"))
        .await?;
    // Warm the realm caches first.
    local
        .exec(Target::A, &Op::Sync(format!("{run_id}-cal-warm")))
        .await;
    let mut ids = Vec::new();
    let span = args.seeded.saturating_sub(PAGE).max(1);
    for i in 0..n {
        let ops = [
            Op::Sync(format!("{run_id}-cal-{i}")),
            Op::List(1 + (i * 37) % span),
        ];
        for op in ops {
            let before = now();
            let done = local.exec(Target::A, &op).await;
            // Both requests of a sync op are counted together; split below.
            let key = match op {
                Op::Sync(_) => "sync",
                _ => "list-page",
            };
            count(key, before, now());
            ids.extend(done.created);
        }
    }
    // lookup-miss alone, so that create = sync − lookup.
    for i in 0..n {
        let f = enc(&format!("externalId eq \"ext-{run_id}-none-{i}\""));
        let before = now();
        let (_, r) = timed(local.scim(Target::A, M::GET, &format!("/Users?filter={f}"))).await;
        r.map_err(|e| anyhow!("lookup-miss: {e}"))?;
        count("lookup-miss", before, now());
    }
    for id in &ids {
        // get, patch-replace, patch-disable one by one
        let reqs: [(&'static str, reqwest::RequestBuilder); 4] = [
            ("get", local.scim(Target::A, M::GET, &format!("/Users/{id}"))),
            (
                "patch-replace",
                local.scim(Target::A, M::PATCH, &format!("/Users/{id}")).body(
                    patch_body(&json!([{"op": "Replace", "path": "name.givenName", "value": "X"},
                                        {"op": "Replace", "path": "name.familyName", "value": "Y"}]))
                    .to_string(),
                ),
            ),
            (
                "patch-disable",
                local.scim(Target::A, M::PATCH, &format!("/Users/{id}")).body(
                    patch_body(&json!([{"op": "Replace", "path": "active", "value": "False"}]))
                        .to_string(),
                ),
            ),
            (
                "add-member",
                local.scim(Target::A, M::PATCH, &format!("/Groups/{gid}")).body(
                    patch_body(&json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]))
                        .to_string(),
                ),
            ),
        ];
        for (kind, req) in reqs {
            let before = now();
            let (_, r) = timed(req).await;
            r.map_err(|e| anyhow!("{kind}: {e}"))?;
            count(kind, before, now());
        }
    }
    Ok(means(&totals))
}

/// Mean (calls, writes) per kind; `sync` is replaced by `create` = sync − lookup-miss.
#[allow(clippy::cast_precision_loss)]
fn means(totals: &BTreeMap<&'static str, Totals>) -> BTreeMap<&'static str, (f64, f64)> {
    let mean = |(c, w, k): Totals| (c as f64 / k.max(1) as f64, w as f64 / k.max(1) as f64);
    let mut out: BTreeMap<&'static str, (f64, f64)> = totals
        .iter()
        .filter(|(k, _)| **k != "sync")
        .map(|(k, v)| (*k, mean(*v)))
        .collect();
    if let (Some(sync), Some(miss)) = (totals.get("sync"), out.get("lookup-miss").copied()) {
        let (c, w) = mean(*sync);
        out.insert("create", (c - miss.0, w - miss.1));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_is_sync_minus_lookup_and_sync_is_not_reported() {
        let totals = BTreeMap::from([
            ("sync", (60, 20, 20)),
            ("lookup-miss", (20, 0, 20)),
            ("get", (10, 0, 10)),
        ]);
        let out = means(&totals);
        assert_eq!(out.get("create"), Some(&(2.0, 1.0)));
        assert_eq!(out.get("lookup-miss"), Some(&(1.0, 0.0)));
        assert_eq!(out.get("get"), Some(&(1.0, 0.0)));
        assert!(!out.contains_key("sync"));
    }

    #[test]
    fn no_requests_give_zero_means_not_a_division_by_zero() {
        let out = means(&BTreeMap::from([("get", (0, 0, 0))]));
        assert_eq!(out.get("get"), Some(&(0.0, 0.0)));
    }
}
