//! `run`: every workload (sync, steady, groups, list) at every concurrency
//! level on the three targets, one after the other, then the report.
//!
//! Invariant: the three targets of a row run back to back on operations of
//! the same shape (users each created in the same phase, list pages drawn
//! from the same range), so their numbers were measured close together in
//! time; no target reads what another just read (Keycloak would answer it
//! from its user cache); the warm-up is never counted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use crate::args::RunArgs;
use crate::calibrate::calibrate;
use crate::phases::{cpu_ms, measured, percentile, reset_peak, run_phase, status_mib, Phase};
use crate::report::{fmt_opt, render, Row};
use crate::setup::{NATIVE_CLIENT, NATIVE_SECRET};
use crate::targets::{Ctx, Op, Target, PAGE, TARGETS};
use crate::tokens::{admin_token, client, refreshed_token};

/// Runs the benchmark; `Ok(false)` when a request to kc-scim failed.
#[allow(clippy::cast_precision_loss)]
pub(crate) async fn run(args: &RunArgs) -> anyhow::Result<bool> {
    let kc = args.kc_url.clone();
    let http = client()?;
    let admin = admin_token(&http, &kc).await?;
    let realm_a = args.realm_a.clone();
    let realm_b = &args.realm_b;
    let token_b = refreshed_token(
        http.clone(),
        format!("{kc}/realms/{realm_b}/protocol/openid-connect/token"),
        vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", NATIVE_CLIENT.to_owned()),
            ("client_secret", NATIVE_SECRET.to_owned()),
        ],
    )
    .await
    .context("token of Keycloak's SCIM API client (did setup-native run?)")?;
    let ctx = Arc::new(Ctx {
        http: http.clone(),
        scim_a: format!("{}/realms/{realm_a}/scim/v2", args.scim_url),
        token_a: args.token_a.clone(),
        scim_b: format!("{kc}/realms/{realm_b}/scim/v2"),
        token_b,
        realm_a: realm_a.clone(),
        admin,
        kc: kc.clone(),
    });
    let pid = args.sidecar_pid;
    let concs = &args.concurrency.0;
    let (n_groups, n_list, seeded) = (args.groups, args.list, args.seeded);
    let bound = Duration::from_secs(args.phase_secs);
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
    let t_start = Instant::now();

    // Warm-up: connections, caches, JIT — not measured.
    for t in TARGETS {
        let ops: Vec<Op> = (0..10)
            .map(|i| Op::Sync(format!("{run_id}-w{}-{i}", t.label())))
            .collect();
        let p = run_phase(&ctx, t, ops, 2, bound).await;
        let steady: Vec<Op> = p
            .created
            .iter()
            .map(|id| Op::Steady(id.clone(), 0))
            .collect();
        run_phase(&ctx, t, steady, 2, bound).await;
        let list: Vec<Op> = (0..10).map(|i| Op::List(1 + i * 97)).collect();
        run_phase(&ctx, t, list, 2, bound).await;
    }

    let calls = match calibrate(args, &ctx, &run_id).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("call-count run failed: {e:#}");
            BTreeMap::new()
        }
    };

    let cpu = match pid.filter(|_| args.cpu_requests > 0) {
        Some(pid) => match crate::cpu::per_request(&ctx, pid, args.cpu_requests, &run_id).await {
            Ok(section) => section,
            Err(e) => {
                eprintln!("CPU-per-request run failed: {e:#}");
                String::new()
            }
        },
        None => String::new(),
    };

    let mut rows: Vec<Row> = Vec::new();
    let mut resources: Vec<String> = Vec::new();
    let mut rng = Lcg(0x9e37_79b9_7f4a_7c15);
    for &conc in concs {
        if let Some(pid) = pid {
            if !reset_peak(pid) {
                eprintln!("cannot reset VmHWM of pid {pid}; peak RSS is since start");
            }
        }
        let cpu0 = pid.and_then(cpu_ms);
        let mut a_requests = 0;
        // sync, then steady on the users the same phase created
        let mut created: BTreeMap<Target, Vec<String>> = BTreeMap::new();
        let mut phases: Vec<(&'static str, BTreeMap<Target, Phase>)> = Vec::new();
        let mut per_target = BTreeMap::new();
        for t in TARGETS {
            let ops = (0..args.sync)
                .map(|i| Op::Sync(format!("{run_id}-{}{conc}-{i}", t.label())))
                .collect();
            let p = measured(&ctx, t, ops, conc, bound, pid).await;
            created.insert(t, p.created.clone());
            per_target.insert(t, p);
        }
        phases.push(("sync", per_target));
        let mut per_target = BTreeMap::new();
        for t in TARGETS {
            let ops = created[&t]
                .iter()
                .map(|id| Op::Steady(id.clone(), conc))
                .collect();
            per_target.insert(t, measured(&ctx, t, ops, conc, bound, pid).await);
        }
        phases.push(("steady", per_target));
        let mut per_target = BTreeMap::new();
        for t in TARGETS {
            let gid = ctx
                .create_group(t, &format!("bench-{run_id}-{}{conc}", t.label()))
                .await?;
            let ops = created[&t]
                .iter()
                .take(n_groups)
                .map(|uid| Op::AddMember(gid.clone(), uid.clone()))
                .collect();
            per_target.insert(t, measured(&ctx, t, ops, conc, bound, pid).await);
        }
        phases.push(("groups", per_target));
        let mut per_target = BTreeMap::new();
        for t in TARGETS {
            // Each target its own pages: a page one target just read sits in
            // Keycloak's user cache for the next.
            let ops = (0..n_list)
                .map(|_| Op::List(1 + rng.below(seeded.saturating_sub(PAGE).max(1))))
                .collect();
            per_target.insert(t, measured(&ctx, t, ops, conc, bound, pid).await);
        }
        phases.push(("list", per_target));

        for (workload, per_target) in &phases {
            let a = &per_target[&Target::A];
            let kinds: BTreeSet<&'static str> =
                a.by_kind.keys().chain(a.errors.keys()).copied().collect();
            a_requests += a.requests;
            for kind in kinds {
                let mut cells = BTreeMap::new();
                for (t, p) in per_target {
                    let mut v = p.by_kind.get(kind).cloned().unwrap_or_default();
                    v.sort();
                    let errors = p.errors.get(kind).copied().unwrap_or(0);
                    cells.insert(
                        *t,
                        (
                            v.len() as f64 / p.wall.as_secs_f64(),
                            percentile(&v, 0.50),
                            percentile(&v, 0.99),
                            v.len(),
                            errors,
                        ),
                    );
                }
                rows.push(Row {
                    workload,
                    kind,
                    conc,
                    cells,
                    cpu_us_per_req: a.cpu_ms.map(|ms| ms * 1000.0 / a.requests.max(1) as f64),
                });
            }
        }
        if let Some(pid) = pid {
            let cpu = cpu0.zip(cpu_ms(pid)).map(|(x, y)| y - x);
            resources.push(format!(
                "| {conc} | {} | {} | {} | {} |",
                a_requests,
                fmt_opt(cpu, 0),
                fmt_opt(cpu.map(|c| c * 1000.0 / a_requests.max(1) as f64), 0),
                fmt_opt(status_mib(pid, "VmHWM:"), 1),
            ));
        }
    }

    let report = render(&rows, &resources, &calls, t_start.elapsed()) + &cpu;
    println!("{report}");
    if let Some(out) = &args.out {
        std::fs::write(out, &report)
            .with_context(|| format!("cannot write the report to {}", out.display()))?;
        eprintln!("report written to {}", out.display());
    }
    Ok(rows
        .iter()
        .all(|r| r.cells.get(&Target::A).is_some_and(|c| c.4 == 0)))
}

/// Tiny deterministic generator for list start indexes.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    /// The next number in `0..n` (`n` ≥ 1).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        #[allow(clippy::cast_possible_truncation)]
        let x = (self.0 >> 33) as usize;
        x % n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_indexes_stay_below_the_bound_and_repeat_per_seed() {
        let draw = || {
            let mut rng = Lcg(0x9e37_79b9_7f4a_7c15);
            (0..500).map(|_| rng.below(900)).collect::<Vec<_>>()
        };
        let first = draw();
        assert!(first.iter().all(|&x| x < 900));
        assert_eq!(first, draw());
        assert!(first.iter().collect::<BTreeSet<_>>().len() > 100);
    }
}
