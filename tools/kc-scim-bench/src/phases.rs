//! One phase (one workload, one target, one concurrency): workers that take
//! operations from a shared list, and the sidecar's CPU time and peak RSS
//! read from /proc around it.
//!
//! Invariant: a phase never runs longer than its request count or its time
//! bound allows (no new operation starts after the bound; in-flight ones
//! finish), and a failed request is counted as an error, never as a latency.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::targets::{Ctx, Op, Target};

/// Results of one phase.
pub(crate) struct Phase {
    pub(crate) wall: Duration,
    /// Latencies of the successful requests, by request kind.
    pub(crate) by_kind: BTreeMap<&'static str, Vec<Duration>>,
    /// Failed requests, by request kind.
    pub(crate) errors: BTreeMap<&'static str, usize>,
    /// Ids of the users the phase created.
    pub(crate) created: Vec<String>,
    /// CPU time of the sidecar during the phase (target a only).
    pub(crate) cpu_ms: Option<f64>,
    pub(crate) requests: usize,
}

/// Runs `ops` on `t` with `conc` workers; stops taking new ops after `bound`.
pub(crate) async fn run_phase(
    ctx: &Arc<Ctx>,
    t: Target,
    ops: Vec<Op>,
    conc: usize,
    bound: Duration,
) -> Phase {
    let ops = Arc::new(ops);
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..conc {
        let (ctx, ops, next) = (ctx.clone(), ops.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ops.len() || t0.elapsed() > bound {
                    return out;
                }
                out.push(ctx.exec(t, &ops[i]).await);
            }
        }));
    }
    let mut phase = Phase {
        wall: Duration::ZERO,
        by_kind: BTreeMap::new(),
        errors: BTreeMap::new(),
        created: Vec::new(),
        cpu_ms: None,
        requests: 0,
    };
    for w in workers {
        let done = match w.await {
            Ok(done) => done,
            Err(e) => {
                eprintln!("{} worker stopped: {e}", t.label());
                continue;
            }
        };
        for done in done {
            phase.created.extend(done.created);
            for s in done.samples {
                phase.requests += 1;
                if s.ok {
                    phase.by_kind.entry(s.kind).or_default().push(s.elapsed);
                } else {
                    *phase.errors.entry(s.kind).or_default() += 1;
                }
            }
        }
    }
    phase.wall = t0.elapsed();
    phase
}

/// [`run_phase`], plus the sidecar's CPU time when `t` is kc-scim.
pub(crate) async fn measured(
    ctx: &Arc<Ctx>,
    t: Target,
    ops: Vec<Op>,
    conc: usize,
    bound: Duration,
    pid: Option<u32>,
) -> Phase {
    let before = if t == Target::A {
        pid.and_then(cpu_ms)
    } else {
        None
    };
    let mut p = run_phase(ctx, t, ops, conc, bound).await;
    if let (Some(b), Some(pid)) = (before, pid) {
        p.cpu_ms = cpu_ms(pid).map(|a| a - b);
    }
    p
}

/// The `p` quantile of `sorted` in ms (nearest rank); NaN when empty.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let idx = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx].as_secs_f64() * 1000.0
}

/// CPU time (user + system) of a process in milliseconds, from /proc.
pub(crate) fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux.
    Some((utime + stime) * 10.0)
}

/// A `kB` line of /proc/<pid>/status, in MiB.
pub(crate) fn status_mib(pid: u32, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Resets the peak RSS (`VmHWM`) of a process we own.
pub(crate) fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().copied().map(Duration::from_millis).collect()
    }

    #[test]
    fn percentile_is_the_nearest_rank() {
        let v = ms(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert!((percentile(&v, 0.5) - 5.0).abs() < 1e-9);
        assert!((percentile(&v, 0.99) - 10.0).abs() < 1e-9);
        assert!((percentile(&v, 0.0) - 1.0).abs() < 1e-9);
        assert!((percentile(&ms(&[7]), 0.99) - 7.0).abs() < 1e-9);
    }

    #[test]
    fn percentile_of_nothing_is_nan() {
        assert!(percentile(&[], 0.5).is_nan());
    }

    #[test]
    fn own_process_has_cpu_time_and_resident_memory() {
        let me = std::process::id();
        assert!(cpu_ms(me).is_some_and(|c| c >= 0.0));
        assert!(status_mib(me, "VmRSS:").is_some_and(|m| m > 0.0));
        assert_eq!(status_mib(me, "NoSuchKey:"), None);
    }
}
