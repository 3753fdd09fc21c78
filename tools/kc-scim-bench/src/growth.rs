//! `growth`: how the latency of a lookup, a GET, a PATCH and a list page grows
//! with the realm's size, kc-scim (a) beside the raw Admin API calls of the
//! same SCIM answer (c), in one table.
//!
//! The realm is seeded up to each size in turn (partial imports, users that
//! exist are skipped), then every request kind is sent `--reps` times at
//! concurrency 1 to both targets, each on a seeded user and a page drawn for
//! it alone (what one target just read would sit in Keycloak's user cache
//! for the other); a and c alternate which goes first. kc-scim's CPU time
//! is read around each of its requests, 2 ms after its reply.
//!
//! Invariant: nothing else is sent to kc-scim while a size is measured, and
//! a failed kc-scim request fails the step (its latency is not counted).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use reqwest::Method as M;
use serde_json::{json, Value};

use crate::args::GrowthArgs;
use crate::cpu::cpu_ns;
use crate::phases::percentile;
use crate::report::fmt;
use crate::setup::{seed_client, seed_range};
use crate::targets::{enc, patch_body, timed, Ctx, Target, PAGE};
use crate::tokens::{admin_token, client};

/// Request kinds, in table order.
const KINDS: [&str; 5] = [
    "lookup userName eq (hit)",
    "lookup externalId eq (hit)",
    "get",
    "patch-replace (name)",
    "list-page (100)",
];

/// Samples of one kind at one size: a's and c's latencies, a's CPU ns.
#[derive(Default)]
struct Samples {
    a: Vec<Duration>,
    c: Vec<Duration>,
    a_cpu_ns: u64,
}

/// `growth`: seeds, measures, prints the table; `Ok(false)` when a kc-scim
/// request failed.
pub(crate) async fn growth(args: &GrowthArgs) -> anyhow::Result<bool> {
    check_sizes(&args.sizes.0)?;
    let http = client()?;
    let admin = admin_token(&http, &args.kc_url).await?;
    let ctx = Ctx::without_b(
        &http,
        &args.kc_url,
        &args.scim_url,
        &args.realm,
        &args.token,
        &admin,
    );
    let seeder = seed_client()?;
    let t0 = Instant::now();
    let mut seeded = 0;
    let mut table: Vec<(usize, BTreeMap<&'static str, Samples>)> = Vec::new();
    let mut rng = crate::run::Lcg(0x2545_f491_4f6c_dd1d);
    let mut ok = true;
    for &size in &args.sizes.0 {
        if size > seeded {
            seed_range(
                &seeder,
                &admin,
                &args.kc_url,
                &args.realm,
                &args.prefix,
                seeded..size,
            )
            .await?;
            seeded = size;
        }
        eprintln!("measuring at {size} users");
        // Warm-up on this size: not counted.
        let mut scratch = BTreeMap::new();
        for rep in 0..args.warmup {
            ok &= one_round(&ctx, args, &mut scratch, size, rep, &mut rng).await;
        }
        let mut by_kind = BTreeMap::new();
        for rep in 0..args.reps {
            ok &= one_round(&ctx, args, &mut by_kind, size, rep, &mut rng).await;
        }
        table.push((size, by_kind));
    }
    let report = render(args, &table, t0.elapsed());
    println!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report)
            .with_context(|| format!("cannot write the report to {}", out.display()))?;
        eprintln!("report written to {}", out.display());
    }
    Ok(ok)
}

/// Every kind once on each target, each on a seeded user and a page of its
/// own (what one target just read would be in Keycloak's user cache for
/// the other), a and c in the order `rep` picks.
async fn one_round(
    ctx: &Ctx,
    args: &GrowthArgs,
    into: &mut BTreeMap<&'static str, Samples>,
    size: usize,
    rep: usize,
    rng: &mut crate::run::Lcg,
) -> bool {
    let order = if rep % 2 == 0 {
        [Target::A, Target::C]
    } else {
        [Target::C, Target::A]
    };
    let mut ok = true;
    for t in order {
        let name = format!("{}{:05}", args.prefix, rng.below(size));
        // Pages start anywhere from the first user to the last full page.
        let start = 1 + rng.below(size - PAGE + 1);
        // The id, from Keycloak (not timed).
        let (_, found) = timed(ctx.admin(
            M::GET,
            &format!(
                "/users?username={}&exact=true&max=1",
                enc(&format!("{name}@contoso.com"))
            ),
        ))
        .await;
        let Some(id) = found
            .ok()
            .and_then(|v| v[0]["id"].as_str().map(str::to_owned))
        else {
            eprintln!("seeded user {name} not found at {size}; round skipped");
            ok = false;
            continue;
        };
        for kind in KINDS {
            let pid = args.sidecar_pid.filter(|_| t == Target::A);
            let cpu0 = pid.and_then(cpu_ns);
            let (elapsed, result) = send(ctx, t, kind, &name, &id, start, rep).await;
            if pid.is_some() {
                // What kc-scim does after the reply (span, metrics) counts too.
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            let cpu1 = pid.and_then(cpu_ns);
            let samples = into.entry(kind).or_default();
            match (t, result) {
                (Target::A, Ok(())) => {
                    samples.a.push(elapsed);
                    samples.a_cpu_ns += cpu1.zip(cpu0).map_or(0, |(y, x)| y.saturating_sub(x));
                }
                (_, Ok(())) => samples.c.push(elapsed),
                (_, Err(e)) => {
                    eprintln!("{} {kind} at {size}: {e}", t.label());
                    if t == Target::A {
                        ok = false;
                    }
                }
            }
        }
    }
    ok
}

/// One request (a) or the Admin API calls of the same answer (c), timed.
async fn send(
    ctx: &Ctx,
    t: Target,
    kind: &str,
    name: &str,
    id: &str,
    start: usize,
    rep: usize,
) -> (Duration, Result<(), String>) {
    let one = |(d, r): (Duration, Result<Value, String>)| (d, r.map(|_| ()));
    let expect_one = |(d, r): (Duration, Result<Value, String>)| {
        (
            d,
            r.and_then(|v| {
                match v["totalResults"]
                    .as_u64()
                    .or_else(|| v.as_array().map(|a| a.len() as u64))
                {
                    Some(1) => Ok(()),
                    other => Err(format!("expected one user, got {other:?}")),
                }
            }),
        )
    };
    let user_path = format!("/users/{id}");
    match (t, kind) {
        (Target::A, "lookup userName eq (hit)") => {
            let f = enc(&format!("userName eq \"{name}@Contoso.com\""));
            expect_one(timed(ctx.scim(t, M::GET, &format!("/Users?filter={f}"))).await)
        }
        (_, "lookup userName eq (hit)") => expect_one(
            timed(ctx.admin(
                M::GET,
                &format!(
                    "/users?briefRepresentation=false&first=0&max=500&exact=true&username={}",
                    enc(&format!("{name}@contoso.com"))
                ),
            ))
            .await,
        ),
        (Target::A, "lookup externalId eq (hit)") => {
            let f = enc(&format!("externalId eq \"ext-{name}\""));
            expect_one(timed(ctx.scim(t, M::GET, &format!("/Users?filter={f}"))).await)
        }
        // The page size kc-scim asks for: with max=2 this search took 8
        // times as long on average on 100,000 users on PostgreSQL.
        (_, "lookup externalId eq (hit)") => expect_one(
            timed(ctx.admin(
                M::GET,
                &format!(
                    "/users?briefRepresentation=false&first=0&max=500&exact=true&q={}",
                    enc(&format!("externalId:ext-{name}"))
                ),
            ))
            .await,
        ),
        (Target::A, "get") => one(timed(ctx.scim(t, M::GET, &format!("/Users/{id}"))).await),
        (_, "get") => one(timed(ctx.admin(M::GET, &user_path)).await),
        (Target::A, "patch-replace (name)") => {
            let ops = json!([
                {"op": "Replace", "path": "name.givenName", "value": format!("Given{rep}a")},
                {"op": "Replace", "path": "name.familyName", "value": format!("Family{rep}a")}
            ]);
            one(timed(
                ctx.scim(t, M::PATCH, &format!("/Users/{id}"))
                    .body(patch_body(&ops).to_string()),
            )
            .await)
        }
        (_, "patch-replace (name)") => {
            // Read, merge, write the whole representation.
            let (d1, r1) = timed(ctx.admin(M::GET, &user_path)).await;
            match r1 {
                Ok(mut user) => {
                    // What kc-scim writes for the same PATCH: the name and
                    // the attributes the default mappers keep it in.
                    let (given, family) = (format!("Given{rep}c"), format!("Family{rep}c"));
                    user["attributes"]["givenName"] = json!([given]);
                    user["attributes"]["surName"] = json!([family]);
                    user["firstName"] = json!(given);
                    user["lastName"] = json!(family);
                    let (d2, r2) = timed(ctx.admin(M::PUT, &user_path).json(&user)).await;
                    (d1 + d2, r2.map(|_| ()))
                }
                Err(e) => (d1, Err(e)),
            }
        }
        (Target::A, _) => {
            let path = format!("/Users?startIndex={start}&count={PAGE}");
            let (d, r) = timed(ctx.scim(t, M::GET, &path)).await;
            (d, r.and_then(|v| page_of(&v["Resources"])))
        }
        (_, _) => {
            let (d1, r1) = timed(ctx.admin(M::GET, "/users/count")).await;
            let (d2, r2) = timed(ctx.admin(
                M::GET,
                &format!(
                    "/users?briefRepresentation=false&first={}&max={PAGE}",
                    start - 1
                ),
            ))
            .await;
            (d1 + d2, r1.and(r2).and_then(|v| page_of(&v)))
        }
    }
}

/// A full page of users, or why not.
fn page_of(v: &Value) -> Result<(), String> {
    match v.as_array().map(Vec::len) {
        Some(PAGE) => Ok(()),
        other => Err(format!("expected {PAGE} users on the page, got {other:?}")),
    }
}

/// The report: one row per kind, per size a's and c's p50, the ratio of
/// means (a/c > 1: kc-scim faster) and kc-scim's CPU per request.
#[allow(clippy::cast_precision_loss)]
fn render(
    args: &GrowthArgs,
    table: &[(usize, BTreeMap<&'static str, Samples>)],
    took: Duration,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Run took {:.0} s (seeding included). {} requests of each kind per size \
         (after {} not counted), concurrency 1; p50 in ms; a/c = c's mean \
         latency over a's (> 1: kc-scim faster); CPU = kc-scim's CPU µs per \
         request, each one alone after an idle gap.\n",
        took.as_secs_f64(),
        args.reps,
        args.warmup
    );
    let mut head = "| request |".to_owned();
    let mut rule = "|---|".to_owned();
    for (size, _) in table {
        let _ = write!(
            head,
            " {size}: a p50 | c p50 | a/c | CPU µs |",
            size = thousands(*size)
        );
        rule.push_str("---:|---:|---:|---:|");
    }
    let _ = writeln!(s, "{head}\n{rule}");
    for kind in KINDS {
        let _ = write!(s, "| {kind} |");
        for (_, by_kind) in table {
            let Some(x) = by_kind.get(kind) else {
                s.push_str(" – | – | – | – |");
                continue;
            };
            let (mut a, mut c) = (x.a.clone(), x.c.clone());
            a.sort();
            c.sort();
            let mean = |v: &[Duration]| {
                if v.is_empty() {
                    f64::NAN
                } else {
                    v.iter().map(Duration::as_secs_f64).sum::<f64>() / v.len() as f64
                }
            };
            let cpu = if args.sidecar_pid.is_some() && !a.is_empty() {
                x.a_cpu_ns as f64 / 1000.0 / a.len() as f64
            } else {
                f64::NAN
            };
            let _ = write!(
                s,
                " {} | {} | {} | {} |",
                fmt(percentile(&a, 0.5), 1),
                fmt(percentile(&c, 0.5), 1),
                fmt(mean(&c) / mean(&a), 2),
                fmt(cpu, 0)
            );
        }
        s.push('\n');
    }
    s
}

/// `100000` as `100,000`.
fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// Checks a growth run's sizes before anything is seeded.
pub(crate) fn check_sizes(sizes: &[usize]) -> anyhow::Result<()> {
    if sizes.iter().any(|&s| s <= PAGE) {
        bail!("every size must exceed one page ({PAGE} users)");
    }
    if sizes.windows(2).any(|w| w[0] >= w[1]) {
        bail!("sizes must grow");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_with_thousands_separators() {
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(100_000), "100,000");
    }

    #[test]
    fn sizes_must_grow_and_exceed_a_page() {
        assert!(check_sizes(&[1000, 10_000, 100_000]).is_ok());
        assert!(check_sizes(&[10_000, 1000]).is_err());
        assert!(check_sizes(&[100]).is_err());
    }

    #[test]
    fn a_page_is_full_or_an_error() {
        let full = Value::Array(vec![json!({}); PAGE]);
        assert!(page_of(&full).is_ok());
        assert!(page_of(&json!([{}])).is_err());
        assert!(page_of(&json!({"Resources": []})).is_err());
    }
}
