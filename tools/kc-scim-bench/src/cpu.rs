//! The sidecar's CPU time and latency per request of one kind: `get`, a
//! `userName eq` lookup, a `PATCH` replacing the name and a group `PATCH`
//! adding a member, each sent one at a time to the running kc-scim after a
//! warm-up, with the process's CPU time read before and after each batch
//! from `/proc/<pid>/task/*/schedstat` (nanoseconds; `/proc/<pid>/stat`
//! counts in 10 ms ticks, too coarse for one kind) and each request's wall
//! time taken by the driver.
//!
//! Invariant: nothing else is sent to kc-scim while a batch runs, so the
//! difference is the cost of that batch's requests alone (plus the idle
//! wake-ups of its runtime, which are the same in every run).

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use reqwest::Method as M;
use serde_json::json;

use crate::args::CpuArgs;
use crate::phases::status_mib;
use crate::report::fmt_opt;
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
const KINDS: [&str; 4] = ["get", "lookup", "patch-replace", "add-member"];

/// What the requests of one process are about: a user (id and userName) and
/// a group it is added to.
struct Subject {
    id: String,
    user_name: String,
    group: String,
}

/// One request of `kind` about `who`; `round` varies the user PATCH so that
/// every one of them writes (a member add writes every time: Keycloak's
/// membership `PUT` is idempotent, and kc-scim reads no members for it).
fn request(ctx: &Ctx, kind: &str, who: &Subject, round: usize) -> reqwest::RequestBuilder {
    let Subject {
        id,
        user_name,
        group,
    } = who;
    match kind {
        "get" => ctx.scim(Target::A, M::GET, &format!("/Users/{id}")),
        "lookup" => {
            let f = enc(&format!("userName eq \"{user_name}\""));
            ctx.scim(Target::A, M::GET, &format!("/Users?filter={f}"))
        }
        "add-member" => {
            let ops = json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]);
            ctx.scim(Target::A, M::PATCH, &format!("/Groups/{group}"))
                .body(patch_body(&ops).to_string())
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

/// What one batch cost: the process's CPU ns (`None` when unreadable), the
/// failed requests and the median wall time of a request in ms.
struct Batch {
    spent: Option<u64>,
    errors: usize,
    p50_ms: Option<f64>,
}

/// `n` sequential requests of `kind` to the process `pid` (after the
/// warm-up); `round` numbers the `PATCH`es.
async fn batch(
    ctx: &Ctx,
    pid: u32,
    kind: &str,
    who: &Subject,
    n: usize,
    round: &mut usize,
) -> Batch {
    for _ in 0..WARM_UP {
        *round += 1;
        let _ = timed(request(ctx, kind, who, *round)).await;
    }
    let before = cpu_ns(pid);
    let mut errors = 0;
    let mut took = Vec::with_capacity(n);
    for _ in 0..n {
        *round += 1;
        let (elapsed, result) = timed(request(ctx, kind, who, *round)).await;
        if result.is_err() {
            errors += 1;
        }
        took.push(millis(elapsed));
    }
    let spent = before.zip(cpu_ns(pid)).map(|(b, a)| a.saturating_sub(b));
    Batch {
        spent,
        errors,
        p50_ms: median(&mut took),
    }
}

/// `d` in milliseconds.
fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Creates the user and the group the requests of one sidecar are about.
async fn subject(ctx: &Ctx, name: &str) -> anyhow::Result<Subject> {
    let done = ctx.exec(Target::A, &Op::Sync(name.to_owned())).await;
    let id = done
        .created
        .ok_or_else(|| anyhow::anyhow!("the user of the CPU measurement was not created"))?;
    let group = ctx
        .create_group(Target::A, &format!("{name}-group"))
        .await?;
    Ok(Subject {
        id,
        user_name: format!("Bench_{name}@Contoso.com"),
        group,
    })
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
    let who = subject(ctx, &format!("{run_id}-cpu")).await?;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nSidecar CPU per request by kind (kc-scim process, {n} sequential requests of each \
         kind after {WARM_UP} of warm-up, CPU time from /proc/<pid>/task/*/schedstat; p50 is \
         the driver's wall time of a request):\n"
    );
    let _ = writeln!(
        s,
        "| request | requests | errors | CPU µs / request | p50 ms |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|");
    let mut round = 0;
    for kind in KINDS {
        let b = batch(ctx, pid, kind, &who, n, &mut round).await;
        let _ = writeln!(
            s,
            "| {kind} | {n} | {} | {} | {} |",
            b.errors,
            fmt_opt(b.spent.map(|ns| micros(ns, n)), 0),
            fmt_opt(b.p50_ms, 2)
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

/// A table of one figure per kind and process (the median over rounds of
/// `rounds[process][kind]`, `places` decimals) and each process's ratio to
/// the first.
fn side_by_side(s: &mut String, labels: &[&str], rounds: &mut [Vec<Vec<f64>>], places: usize) {
    let _ = write!(s, "| request | {} |", labels.join(" | "));
    for l in labels.iter().skip(1) {
        let _ = write!(s, " {l} / {} |", labels[0]);
    }
    let _ = writeln!(s, "\n|---|{}", "---:|".repeat(2 * labels.len() - 1));
    for (k, kind) in KINDS.iter().enumerate() {
        let medians: Vec<Option<f64>> = rounds.iter_mut().map(|m| median(&mut m[k])).collect();
        let _ = write!(s, "| {kind} |");
        for m in &medians {
            let _ = write!(s, " {} |", fmt_opt(*m, places));
        }
        let base = medians.first().copied().flatten();
        for m in medians.iter().skip(1) {
            let _ = write!(s, " {} |", fmt_opt(m.zip(base).map(|(x, b)| x / b), 2));
        }
        let _ = writeln!(s);
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
    // Per process and kind: CPU µs per request, and p50 ms, of each round.
    let mut cpu = vec![vec![Vec::new(); KINDS.len()]; sidecars.len()];
    let mut p50 = cpu.clone();
    let mut errors = 0;
    let mut round = 0;
    for r in 1..=args.rounds {
        for (k, kind) in KINDS.iter().enumerate() {
            for i in turns(sidecars.len(), r) {
                let (sc, ctx, who) = &sidecars[i];
                let b = batch(ctx, sc.pid, kind, who, n, &mut round).await;
                errors += b.errors;
                let spent = b.spent.ok_or_else(|| {
                    anyhow::anyhow!("no CPU time of process {} ({})", sc.pid, sc.label)
                })?;
                cpu[i][k].push(micros(spent, n));
                p50[i][k].extend(b.p50_ms);
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
    side_by_side(&mut s, &labels, &mut cpu, 0);
    let _ = writeln!(
        s,
        "\nLatency of the same requests: median over the rounds of each batch's p50 wall \
         time in ms (the driver's clock, Keycloak's time included).\n"
    );
    side_by_side(&mut s, &labels, &mut p50, 2);
    // Memory after the same requests in every process: resident now and at
    // the peak since it started.
    let _ = writeln!(
        s,
        "\n| process | RSS MiB | peak RSS (VmHWM) MiB |\n|---|---:|---:|"
    );
    for (sc, ..) in &sidecars {
        let mib = |key| fmt_opt(status_mib(sc.pid, key), 1);
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
    fn side_by_side_gives_medians_and_ratios_to_the_first_process() {
        let mut rounds = vec![
            vec![vec![2.0, 4.0, 3.0]; KINDS.len()],
            vec![vec![6.0, 1.5]; KINDS.len()],
        ];
        rounds[1][3].clear();
        let mut s = String::new();
        side_by_side(&mut s, &["base", "tree"], &mut rounds, 1);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines[0], "| request | base | tree | tree / base |");
        assert_eq!(lines[2], "| get | 3.0 | 3.8 | 1.25 |");
        assert_eq!(lines[5], "| add-member | 3.0 | – | – |");
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
