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

use crate::targets::{enc, patch_body, timed, Ctx, Op, Target};

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

/// The report section: CPU µs per request of each kind, `n` requests each.
#[allow(clippy::cast_precision_loss)]
pub(crate) async fn per_request(
    ctx: &Arc<Ctx>,
    pid: u32,
    n: usize,
    run_id: &str,
) -> anyhow::Result<String> {
    let name = format!("{run_id}-cpu");
    let done = ctx.exec(Target::A, &Op::Sync(name.clone())).await;
    let id = done
        .created
        .ok_or_else(|| anyhow::anyhow!("the user of the CPU measurement was not created"))?;
    let user_name = format!("Bench_{name}@Contoso.com");
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\nSidecar CPU per request by kind (kc-scim process, {n} sequential requests of each \
         kind after 20 of warm-up, CPU time from /proc/<pid>/task/*/schedstat):\n"
    );
    let _ = writeln!(s, "| request | requests | errors | CPU µs / request |");
    let _ = writeln!(s, "|---|---:|---:|---:|");
    let mut round = 0;
    for kind in KINDS {
        for _ in 0..20 {
            round += 1;
            let _ = timed(request(ctx, kind, &id, &user_name, round)).await;
        }
        let before = cpu_ns(pid);
        let mut errors = 0;
        for _ in 0..n {
            round += 1;
            if timed(request(ctx, kind, &id, &user_name, round))
                .await
                .1
                .is_err()
            {
                errors += 1;
            }
        }
        let spent = before.zip(cpu_ns(pid)).map(|(b, a)| a.saturating_sub(b));
        let _ = writeln!(
            s,
            "| {kind} | {n} | {errors} | {} |",
            spent.map_or("–".into(), |ns| format!(
                "{:.0}",
                ns as f64 / 1000.0 / n.max(1) as f64
            ))
        );
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

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
