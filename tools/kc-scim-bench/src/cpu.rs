//! The sidecar's CPU time per request of one kind: `get`, a `userName eq`
//! lookup and a `PATCH` replacing the name, each sent one at a time to the
//! running kc-scim after a warm-up, with the process's CPU time read before
//! and after each batch from `/proc/<pid>/task/*/schedstat` (nanoseconds;
//! `/proc/<pid>/stat` counts in 10 ms ticks, too coarse for one kind).
//!
//! Invariant: nothing else is sent to kc-scim while a batch runs, so the
//! difference is the cost of that batch's requests alone (plus the idle
//! wake-ups of its runtime, which are the same in every run).

use std::fmt::Write as _;
use std::sync::Arc;

use reqwest::Method as M;
use serde_json::json;

use crate::args::CpuArgs;
use crate::phases::status_mib;
use crate::targets::{enc, patch_body, timed, Ctx, Op, Target};
use crate::tokens::{admin_token, client};

/// Time the threads of `pid` spent on a CPU, in nanoseconds.
pub(crate) fn cpu_ns(pid: u32) -> Option<u64> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let mut total = 0u64;
    for task in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        total += stat
            .split_whitespace()
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0);
    }
    Some(total)
}

/// The kinds measured, in report order.
const KINDS: [&str; 3] = ["get", "lookup", "patch-replace"];

/// One request of `kind` about user `id` named `user_name`; `round` varies
/// the PATCH so that every one of them writes.
fn request(
    ctx: &Ctx,
    kind: &str,
    id: &str,
    user_name: &str,
    round: usize,
) -> reqwest::RequestBuilder {
    match kind {
        "get" => ctx.scim(Target::A, M::GET, &format!("/Users/{id}")),
        "lookup" => {
            let f = enc(&format!("userName eq \"{user_name}\""));
            ctx.scim(Target::A, M::GET, &format!("/Users?filter={f}"))
        }
        _ => {
            let ops = json!([
                {"op": "Replace", "path": "name.givenName", "value": format!("Given{round}")},
                {"op": "Replace", "path": "name.familyName", "value": format!("Family{round}")}
            ]);
            ctx.scim(Target::A, M::PATCH, &format!("/Users/{id}"))
                .body(patch_body(&ops).to_string())
        }
    }
}

/// Warm-up requests of each kind before a batch is measured.
const WARM_UP: usize = 20;

/// CPU ns of `pid` spent on `n` sequential requests of `kind` (after the
/// warm-up), and how many of them failed; `round` numbers the `PATCH`es.
async fn batch(
    ctx: &Ctx,
    pid: u32,
    kind: &str,
    (id, user_name): (&str, &str),
    n: usize,
    round: &mut usize,
) -> (Option<u64>, usize) {
    for _ in 0..WARM_UP {
        *round += 1;
        let _ = timed(request(ctx, kind, id, user_name, *round)).await;
    }
    let before = cpu_ns(pid);
    let mut errors = 0;
    for _ in 0..n {
        *round += 1;
        if timed(request(ctx, kind, id, user_name, *round))
            .await
            .1
            .is_err()
        {
            errors += 1;
        }
    }
    let spent = before.zip(cpu_ns(pid)).map(|(b, a)| a.saturating_sub(b));
    (spent, errors)
}

/// Creates the user the requests of one sidecar are about: its id and
/// userName.
async fn subject(ctx: &Ctx, name: &str) -> anyhow::Result<(String, String)> {
    let done = ctx.exec(Target::A, &Op::Sync(name.to_owned())).await;
    let id = done
        .created
        .ok_or_else(|| anyhow::anyhow!("the user of the CPU measurement was not created"))?;
    Ok((id, format!("Bench_{name}@Contoso.com")))
}

/// µs per request of `ns` spent on `n` requests.
#[allow(clippy::cast_precision_loss)]
fn micros(ns: u64, n: usize) -> f64 {
    ns as f64 / 1000.0 / n.max(1) as f64
}

/// The report section: CPU µs per request of each kind, `n` requests each.
pub(crate) async fn per_request(
    ctx: &Arc<Ctx>,
    pid: u32,
    n: usize,
    run_id: &str,
) -> anyhow::Result<String> {
    let (id, user_name) = subject(ctx, &format!("{run_id}-cpu")).await?;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nSidecar CPU per request by kind (kc-scim process, {n} sequential requests of each \
         kind after {WARM_UP} of warm-up, CPU time from /proc/<pid>/task/*/schedstat):\n"
    );
    let _ = writeln!(s, "| request | requests | errors | CPU µs / request |");
    let _ = writeln!(s, "|---|---:|---:|---:|");
    let mut round = 0;
    for kind in KINDS {
        let (spent, errors) = batch(ctx, pid, kind, (&id, &user_name), n, &mut round).await;
        let _ = writeln!(
            s,
            "| {kind} | {n} | {errors} | {} |",
            spent.map_or("–".into(), |ns| format!("{:.0}", micros(ns, n)))
        );
    }
    Ok(s)
}

/// The median of `v` (sorted here); `None` when empty.
fn median(v: &mut [f64]) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => None,
        n if n % 2 == 1 => Some(v[n / 2]),
        n => Some(f64::midpoint(v[n / 2 - 1], v[n / 2])),
    }
}

/// The order in which `n` processes take their turn in round `r` (from 1):
/// forwards in odd rounds, backwards in even ones, so that no process is
/// always the one measured right after another's batch.
fn turns(n: usize, r: usize) -> Vec<usize> {
    if r % 2 == 1 {
        (0..n).collect()
    } else {
        (0..n).rev().collect()
    }
}

/// `cpu`: the sidecars take turns, kind by kind, in every round; the report
/// gives each one's median µs per request and its ratio to the first.
/// `Ok(false)` when a request failed.
pub(crate) async fn compare(args: &CpuArgs) -> anyhow::Result<bool> {
    let http = client()?;
    let admin = admin_token(&http, &args.kc_url).await?;
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
    let mut sidecars = Vec::new();
    for (i, sc) in args.sidecars.iter().enumerate() {
        let ctx = Ctx::without_b(
            &http,
            &args.kc_url,
            &sc.url,
            &args.realm,
            &args.token,
            &admin,
        );
        let user = subject(&ctx, &format!("{run_id}-cpu{i}")).await?;
        sidecars.push((sc, ctx, user));
    }
    let n = args.requests;
    let mut samples = vec![[Vec::new(), Vec::new(), Vec::new()]; sidecars.len()];
    let mut errors = 0;
    let mut round = 0;
    for r in 1..=args.rounds {
        for (k, kind) in KINDS.iter().enumerate() {
            for i in turns(sidecars.len(), r) {
                let (sc, ctx, (id, user_name)) = &sidecars[i];
                let (spent, failed) =
                    batch(ctx, sc.pid, kind, (id, user_name), n, &mut round).await;
                errors += failed;
                let spent = spent.ok_or_else(|| {
                    anyhow::anyhow!("no CPU time of process {} ({})", sc.pid, sc.label)
                })?;
                samples[i][k].push(micros(spent, n));
            }
        }
        eprintln!("cpu: round {r} of {} done", args.rounds);
    }
    let mut s = String::new();
    let _ = writeln!(
        s,
        "CPU µs per request by kind, median of {} rounds of {n} sequential requests per kind \
         and process (after {WARM_UP} of warm-up; the processes take turns within each round, \
         in alternating order; \
         CPU time from /proc/<pid>/task/*/schedstat); {errors} failed requests.\n",
        args.rounds
    );
    let labels: Vec<&str> = sidecars.iter().map(|(sc, ..)| sc.label.as_str()).collect();
    let _ = write!(s, "| request | {} |", labels.join(" | "));
    for l in &labels[1..] {
        let _ = write!(s, " {l} / {} |", labels[0]);
    }
    let _ = writeln!(s, "\n|---|{}", "---:|".repeat(2 * labels.len() - 1));
    for (k, kind) in KINDS.iter().enumerate() {
        let medians: Vec<Option<f64>> = samples.iter_mut().map(|m| median(&mut m[k])).collect();
        let _ = write!(s, "| {kind} |");
        for m in &medians {
            let _ = write!(s, " {} |", m.map_or("–".into(), |v| format!("{v:.0}")));
        }
        for m in &medians[1..] {
            let ratio = m.zip(medians[0]).map(|(x, base)| x / base);
            let _ = write!(s, " {} |", ratio.map_or("–".into(), |v| format!("{v:.2}")));
        }
        let _ = writeln!(s);
    }
    // Memory after the same requests in every process: resident now and at
    // the peak since it started.
    let _ = writeln!(
        s,
        "\n| process | RSS MiB | peak RSS (VmHWM) MiB |\n|---|---:|---:|"
    );
    for (sc, ..) in &sidecars {
        let mib = |key| status_mib(sc.pid, key).map_or("–".into(), |m| format!("{m:.1}"));
        let _ = writeln!(
            s,
            "| {} | {} | {} |",
            sc.label,
            mib("VmRSS:"),
            mib("VmHWM:")
        );
    }
    print!("{s}");
    if let Some(out) = &args.out {
        std::fs::write(out, &s)?;
    }
    Ok(errors == 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn turns_alternate_direction_round_by_round() {
        assert_eq!(turns(3, 1), [0, 1, 2]);
        assert_eq!(turns(3, 2), [2, 1, 0]);
        assert_eq!(turns(1, 2), [0]);
    }

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn own_process_has_cpu_time_in_nanoseconds() {
        let me = std::process::id();
        let before = cpu_ns(me).expect("schedstat readable");
        let mut x = 0u64;
        for i in 0..5_000_000u64 {
            x = x.wrapping_mul(31).wrapping_add(i);
        }
        assert!(x != 1);
        assert!(cpu_ns(me).expect("schedstat readable") > before);
    }
}
