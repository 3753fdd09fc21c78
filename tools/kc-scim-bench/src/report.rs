//! The Markdown report of `run`: the side-by-side table, the sidecar's CPU
//! per request and resources per level, and Keycloak calls per SCIM request.
//!
//! Invariant: rendering is pure (rows in, text out); a value that was not
//! measured prints as `–`, never as a number.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::time::Duration;

use crate::targets::Target;

/// Throughput (req/s), p50 ms, p99 ms, successful requests, errors.
pub(crate) type Cell = (f64, f64, f64, usize, usize);

/// One line of the main table: one request kind of one workload at one level.
pub(crate) struct Row {
    pub(crate) workload: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) conc: usize,
    /// Per target.
    pub(crate) cells: BTreeMap<Target, Cell>,
    /// kc-scim CPU µs per request over the whole phase.
    pub(crate) cpu_us_per_req: Option<f64>,
}

/// `x` with `digits` decimals, `–` for NaN.
pub(crate) fn fmt(x: f64, digits: usize) -> String {
    if x.is_nan() {
        "–".to_owned()
    } else {
        format!("{x:.digits$}")
    }
}

/// [`fmt`] of a figure that may be missing (`–`).
pub(crate) fn fmt_opt(x: Option<f64>, digits: usize) -> String {
    x.map_or_else(|| "–".to_owned(), |x| fmt(x, digits))
}

/// The whole report. `resources` are ready table lines; `calls` maps a
/// request kind to kc-scim's mean (calls, writes).
pub(crate) fn render(
    rows: &[Row],
    resources: &[String],
    calls: &BTreeMap<&'static str, (f64, f64)>,
    took: Duration,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Run took {:.0} s. Throughput: completed requests of that kind per second of the phase.\n\
         Latency in ms. a = kc-scim, b = Keycloak SCIM API, c = raw Admin API.\n",
        took.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "| workload | request | conc | a req/s | a p50 | a p99 | b req/s | b p50 | b p99 | c req/s | c p50 | c p99 | a/b thr | a/c thr | a−c p50 | errors a/b/c |"
    );
    let _ = writeln!(
        s,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for r in rows {
        let cell = |t: Target| {
            r.cells
                .get(&t)
                .copied()
                .unwrap_or((f64::NAN, f64::NAN, f64::NAN, 0, 0))
        };
        let (a, b, c) = (cell(Target::A), cell(Target::B), cell(Target::C));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{}/{} |",
            r.workload,
            r.kind,
            r.conc,
            fmt(a.0, 1),
            fmt(a.1, 1),
            fmt(a.2, 1),
            fmt(b.0, 1),
            fmt(b.1, 1),
            fmt(b.2, 1),
            fmt(c.0, 1),
            fmt(c.1, 1),
            fmt(c.2, 1),
            fmt(a.0 / b.0, 2),
            fmt(a.0 / c.0, 2),
            fmt(a.1 - c.1, 1),
            a.4,
            b.4,
            c.4
        );
    }
    let _ = writeln!(
        s,
        "\nSidecar CPU per request (µs, kc-scim process, from /proc/<pid>/stat; the kernel counts in 10 ms ticks):\n"
    );
    let _ = writeln!(
        s,
        "| workload | request | conc | CPU µs / request (whole phase) |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|");
    let mut seen = BTreeSet::new();
    for r in rows {
        if seen.insert((r.workload, r.conc)) {
            let _ = writeln!(
                s,
                "| {} | all | {} | {} |",
                r.workload,
                r.conc,
                fmt_opt(r.cpu_us_per_req, 0)
            );
        }
    }
    let _ = writeln!(
        s,
        "\nSidecar resources per concurrency level (peak RSS = VmHWM, reset at the start of each level):\n"
    );
    let _ = writeln!(
        s,
        "| conc | kc-scim requests | CPU ms | CPU µs / request | peak RSS MiB |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|");
    for line in resources {
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(
        s,
        "\nKeycloak Admin API calls per SCIM request of kc-scim (in-process server, warm caches, concurrency 1; c's count for comparison):\n"
    );
    let _ = writeln!(
        s,
        "| request | kc-scim calls (mean) | kc-scim writes (mean) | c calls |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|");
    for (kind, (calls, writes)) in calls {
        let raw = match *kind {
            "lookup-miss" | "get" | "add-member" => "1",
            _ => "2",
        };
        let _ = writeln!(
            s,
            "| {kind} | {} | {} | {raw} |",
            fmt(*calls, 2),
            fmt(*writes, 2)
        );
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmeasured_values_print_as_dashes() {
        assert_eq!(fmt(f64::NAN, 1), "–");
        assert_eq!(fmt(2.345, 2), "2.35");
        assert_eq!(fmt_opt(None, 1), "–");
        assert_eq!(fmt_opt(Some(f64::NAN), 1), "–");
        assert_eq!(fmt_opt(Some(21.44), 1), "21.4");
    }

    #[test]
    fn a_row_shows_ratios_and_a_missing_target_as_dashes() {
        let mut cells = BTreeMap::new();
        cells.insert(Target::A, (20.0, 5.0, 9.0, 100, 0));
        cells.insert(Target::C, (40.0, 2.0, 4.0, 100, 1));
        let row = Row {
            workload: "steady",
            kind: "get",
            conc: 8,
            cells,
            cpu_us_per_req: Some(1234.4),
        };
        let mut calls = BTreeMap::new();
        calls.insert("get", (1.0, 0.0));
        let out = render(&[row], &[], &calls, Duration::from_secs(3));
        assert!(out.starts_with("Run took 3 s."), "{out}");
        assert!(
            out.contains(
                "| steady | get | 8 | 20.0 | 5.0 | 9.0 | – | – | – | 40.0 | 2.0 | 4.0 | – | 0.50 | 3.0 | 0/0/1 |"
            ),
            "{out}"
        );
        assert!(out.contains("| steady | all | 8 | 1234 |"), "{out}");
        assert!(out.contains("| get | 1.00 | 0.00 | 1 |"), "{out}");
    }
}
