//! The driver's command line: one subcommand per step of `scripts/bench.sh`
//! (`seed`, `setup-native`, `run`, `users2000`, `growth`, `cpu`), each flag
//! with its default.
//!
//! Invariant: every URL the driver will call passes [`loopback_url`] here, at
//! the edge, so no later code can send bench traffic off this machine; the
//! flag names and defaults are the ones `scripts/bench.sh` passes.

use std::path::PathBuf;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};

/// Load driver of `make bench`: kc-scim beside Keycloak's SCIM API and the
/// raw Admin API on one Keycloak (docs/benchmarks.md).
#[derive(Debug, Parser)]
#[command(
    name = "kc-scim-bench",
    version,
    about,
    after_help = "scripts/bench.sh drives it. Keycloak admin credentials come from \
                  KC_ADMIN_USER and KC_ADMIN_PASSWORD (default admin/admin). \
                  Only loopback URLs are accepted."
)]
pub(crate) struct Cli {
    /// The step to run.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The steps of a bench run, in the order `scripts/bench.sh` calls them.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Partial import of N users (chunks of 1,000) with the attributes kc-scim maps.
    Seed(SeedArgs),
    /// Switch Keycloak's SCIM API on for a realm and create the client that calls it.
    SetupNative(SetupNativeArgs),
    /// Every workload × concurrency × target (a kc-scim, b Keycloak SCIM, c raw
    /// Admin API); prints the tables. Fails when a request to kc-scim failed.
    Run(RunArgs),
    /// /Users pages and filtered lookups on a seeded realm, with correctness
    /// checks. Fails when a check failed.
    #[command(name = "users2000")]
    Users2000(Users2000Args),
    /// Seeds a realm to each size in turn and measures lookups, GET, PATCH
    /// and list pages of kc-scim (a) beside the raw Admin API (c) at each.
    Growth(GrowthArgs),
    /// CPU µs and p50 latency per request (get, lookup, PATCH, member add)
    /// of one or more running kc-scim processes, alternated round by round:
    /// builds side by side.
    Cpu(CpuArgs),
}

/// `seed`.
#[derive(Debug, Args)]
pub(crate) struct SeedArgs {
    /// Keycloak base URL (loopback only), e.g. `http://127.0.0.1:8080`.
    #[arg(long, value_name = "URL", value_parser = loopback_url)]
    pub(crate) kc_url: String,
    /// Realm to seed (it must exist).
    #[arg(long)]
    pub(crate) realm: String,
    /// Number of users to import.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub(crate) users: usize,
    /// Prefix of the seeded user names (`<prefix>00042@contoso.com`).
    #[arg(long, default_value = "seed")]
    pub(crate) prefix: String,
}

/// `setup-native`.
#[derive(Debug, Args)]
pub(crate) struct SetupNativeArgs {
    /// Keycloak base URL (loopback only), started with `--features=scim-api`.
    #[arg(long, value_name = "URL", value_parser = loopback_url)]
    pub(crate) kc_url: String,
    /// Realm whose Keycloak SCIM API is switched on (target b).
    #[arg(long)]
    pub(crate) realm: String,
}

/// `run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// Keycloak base URL (loopback only): Admin API (c) and SCIM API (b).
    #[arg(long, value_name = "URL", value_parser = loopback_url)]
    pub(crate) kc_url: String,
    /// Base URL of the running `kc-scim serve` (loopback only; target a).
    #[arg(long, value_name = "URL", value_parser = loopback_url)]
    pub(crate) scim_url: String,
    /// Realm served by kc-scim (targets a and c).
    #[arg(long, value_name = "REALM")]
    pub(crate) realm_a: String,
    /// Realm with Keycloak's SCIM API on (target b; see `setup-native`).
    #[arg(long, value_name = "REALM")]
    pub(crate) realm_b: String,
    /// Static bearer token of realm a (`kc-scim token create`).
    #[arg(long, value_name = "TOKEN")]
    pub(crate) token_a: String,
    /// Process id of the kc-scim server, for its CPU time and peak RSS.
    #[arg(long, value_name = "PID")]
    pub(crate) sidecar_pid: Option<u32>,
    /// Users seeded per realm (list pages start at random indexes below it).
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub(crate) seeded: usize,
    /// Sync operations (lookup miss + create) per target and level.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub(crate) sync: usize,
    /// Member adds per target and level (at most one per synced user).
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub(crate) groups: usize,
    /// List pages per target and level.
    #[arg(long, value_name = "N", default_value_t = 200)]
    pub(crate) list: usize,
    /// Concurrency levels, comma-separated.
    #[arg(long, value_name = "LIST", default_value = "1,8,32", value_parser = concurrency_levels)]
    pub(crate) concurrency: ConcurrencyLevels,
    /// Time bound of one phase in seconds (in-flight requests finish).
    #[arg(long, value_name = "SECS", default_value_t = 90)]
    pub(crate) phase_secs: u64,
    /// Requests of each kind sent to the in-process server that counts
    /// Keycloak calls.
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub(crate) calibrate: usize,
    /// Requests of each kind (get, lookup, PATCH) sent one at a time to
    /// kc-scim to measure its CPU time per request (0: not measured; needs
    /// `--sidecar-pid`).
    #[arg(long, value_name = "N", default_value_t = 300)]
    pub(crate) cpu_requests: usize,
    /// Also write the report to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

/// `users2000`.
#[derive(Debug, Args)]
pub(crate) struct Users2000Args {
    /// Base URL of the running `kc-scim serve` (loopback only).
    #[arg(long, value_name = "URL", value_parser = loopback_url)]
    pub(crate) scim_url: String,
    /// Realm served by kc-scim, seeded with `seed`.
    #[arg(long)]
    pub(crate) realm: String,
    /// Static bearer token of the realm (`kc-scim token create`).
    #[arg(long, value_name = "TOKEN")]
    pub(crate) token: String,
    /// Users seeded into the realm (at least 1).
    #[arg(long, value_name = "N", default_value_t = 2000,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub(crate) seeded: usize,
    /// Prefix the users were seeded with.
    #[arg(long, default_value = "seed")]
    pub(crate) prefix: String,
    /// Requests per case.
    #[arg(long, value_name = "N", default_value_t = 50)]
    pub(crate) reps: usize,
    /// Also write the report to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

/// `growth`.
#[derive(Debug, Args)]
pub(crate) struct GrowthArgs {
    /// Keycloak base URL (loopback only).
    #[arg(long, value_name = "URL", value_parser = loopback_url)]
    pub(crate) kc_url: String,
    /// Base URL of the running `kc-scim serve` (loopback only).
    #[arg(long, value_name = "URL", value_parser = loopback_url)]
    pub(crate) scim_url: String,
    /// Realm served by kc-scim; seeded here.
    #[arg(long)]
    pub(crate) realm: String,
    /// Static bearer token of the realm (`kc-scim token create`).
    #[arg(long, value_name = "TOKEN")]
    pub(crate) token: String,
    /// Realm sizes, growing, comma-separated.
    #[arg(long, value_name = "LIST", default_value = "1000,10000,100000", value_parser = concurrency_levels)]
    pub(crate) sizes: ConcurrencyLevels,
    /// Requests of each kind per size and target.
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub(crate) reps: usize,
    /// Rounds per size before counting.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub(crate) warmup: usize,
    /// Prefix of the seeded user names.
    #[arg(long, default_value = "seed")]
    pub(crate) prefix: String,
    /// Process id of the kc-scim server, for its CPU time per request.
    #[arg(long, value_name = "PID")]
    pub(crate) sidecar_pid: Option<u32>,
    /// Also write the report to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

/// `cpu`.
#[derive(Debug, Args)]
pub(crate) struct CpuArgs {
    /// Keycloak base URL (loopback only).
    #[arg(long, value_name = "URL", value_parser = loopback_url)]
    pub(crate) kc_url: String,
    /// Realm every measured kc-scim serves.
    #[arg(long)]
    pub(crate) realm: String,
    /// Static bearer token of the realm (`kc-scim token create`).
    #[arg(long, value_name = "TOKEN")]
    pub(crate) token: String,
    /// A running `kc-scim serve` as `LABEL=URL@PID`; repeat it to compare
    /// builds (the first is the reference of the ratios).
    #[arg(long = "sidecar", value_name = "LABEL=URL@PID", required = true, value_parser = sidecar)]
    pub(crate) sidecars: Vec<Sidecar>,
    /// Requests of each kind per sidecar and round.
    #[arg(long, value_name = "N", default_value_t = 500,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub(crate) requests: usize,
    /// Rounds (the sidecars take turns in each; the report gives medians).
    #[arg(long, value_name = "N", default_value_t = 5,
          value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub(crate) rounds: usize,
    /// Also write the report to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

/// One kc-scim process measured by `cpu`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sidecar {
    pub(crate) label: String,
    pub(crate) url: String,
    pub(crate) pid: u32,
}

/// Parses `LABEL=URL@PID` (the URL loopback only).
fn sidecar(raw: &str) -> Result<Sidecar, String> {
    let (label, rest) = raw
        .split_once('=')
        .ok_or_else(|| format!("{raw:?} is not LABEL=URL@PID"))?;
    let (url, pid) = rest
        .rsplit_once('@')
        .ok_or_else(|| format!("{raw:?} is not LABEL=URL@PID"))?;
    if label.is_empty() {
        return Err(format!("{raw:?} has an empty label"));
    }
    Ok(Sidecar {
        label: label.to_owned(),
        url: loopback_url(url)?,
        pid: pid
            .parse()
            .map_err(|_| format!("{pid:?} is not a process id"))?,
    })
}

/// Positive numbers in the order given: the concurrency levels of `run
/// --concurrency`, the realm sizes of `growth --sizes`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ConcurrencyLevels(pub(crate) Vec<usize>);

/// Parses `1,8,32` (spaces around the numbers allowed).
fn concurrency_levels(raw: &str) -> Result<ConcurrencyLevels, String> {
    raw.split(',')
        .map(|c| match c.trim().parse::<usize>() {
            Ok(0) => Err("each number is at least 1".to_owned()),
            Ok(n) => Ok(n),
            Err(_) => Err(format!("{c:?} is not a number")),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(ConcurrencyLevels)
}

/// Accepts a URL whose host is `127.0.0.1`, `localhost` or `[::1]` and returns it
/// without trailing slashes: the bench never leaves this machine.
fn loopback_url(raw: &str) -> Result<String, String> {
    let parsed = url::Url::parse(raw).map_err(|e| format!("bad URL {raw:?}: {e}"))?;
    if matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")) {
        Ok(raw.trim_end_matches('/').to_owned())
    } else {
        Err("must be a loopback URL (the bench never leaves this machine)".to_owned())
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("kc-scim-bench").chain(args.iter().copied()))
    }

    #[test]
    fn command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn loopback_urls_are_accepted_without_trailing_slash() {
        for (raw, want) in [
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
            ("http://localhost:18080", "http://localhost:18080"),
            ("http://[::1]:8090//", "http://[::1]:8090"),
        ] {
            assert_eq!(loopback_url(raw).as_deref(), Ok(want), "{raw}");
        }
    }

    #[test]
    fn other_hosts_and_non_urls_are_refused() {
        for raw in [
            "http://10.0.0.1:8080",
            "https://keycloak.example.com",
            "127.0.0.1:8080",
            "",
        ] {
            assert!(loopback_url(raw).is_err(), "{raw}");
        }
    }

    #[test]
    fn sidecars_name_a_label_a_loopback_url_and_a_pid() {
        assert_eq!(
            sidecar("new=http://127.0.0.1:8090/@4242"),
            Ok(Sidecar {
                label: "new".into(),
                url: "http://127.0.0.1:8090".into(),
                pid: 4242
            })
        );
        for bad in [
            "http://127.0.0.1:8090@1",
            "=http://127.0.0.1:8090@1",
            "a=http://127.0.0.1:8090",
            "a=http://127.0.0.1:8090@x",
            "a=http://10.0.0.1:8090@1",
        ] {
            assert!(sidecar(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn concurrency_list_keeps_order_and_refuses_zero_and_words() {
        assert_eq!(
            concurrency_levels("1, 8,32"),
            Ok(ConcurrencyLevels(vec![1, 8, 32]))
        );
        assert!(concurrency_levels("1,0").is_err());
        assert!(concurrency_levels("1,,8").is_err());
        assert!(concurrency_levels("many").is_err());
    }

    #[test]
    fn run_defaults_are_the_documented_ones() {
        let cli = parse(&[
            "run",
            "--kc-url",
            "http://127.0.0.1:1",
            "--scim-url",
            "http://127.0.0.1:2",
            "--realm-a",
            "a",
            "--realm-b",
            "b",
            "--token-a",
            "t",
        ])
        .expect("valid command line");
        let Command::Run(run) = cli.command else {
            panic!("parsed as {:?}", cli.command);
        };
        assert_eq!(
            (
                run.seeded,
                run.sync,
                run.groups,
                run.list,
                run.phase_secs,
                run.calibrate,
                run.cpu_requests
            ),
            (10_000, 200, 200, 200, 90, 20, 300)
        );
        assert_eq!(run.concurrency, ConcurrencyLevels(vec![1, 8, 32]));
        assert_eq!(run.sidecar_pid, None);
        assert_eq!(run.out, None);
    }

    #[test]
    fn seed_and_users2000_defaults_are_the_documented_ones() {
        let Command::Seed(seed) =
            parse(&["seed", "--kc-url", "http://127.0.0.1:1", "--realm", "r"])
                .expect("valid command line")
                .command
        else {
            panic!("not seed");
        };
        assert_eq!((seed.users, seed.prefix.as_str()), (1000, "seed"));
        let Command::Users2000(u) = parse(&[
            "users2000",
            "--scim-url",
            "http://127.0.0.1:2",
            "--realm",
            "r",
            "--token",
            "t",
        ])
        .expect("valid command line")
        .command
        else {
            panic!("not users2000");
        };
        assert_eq!((u.seeded, u.reps, u.prefix.as_str()), (2000, 50, "seed"));
    }

    #[test]
    fn missing_required_flag_and_unknown_subcommand_are_errors() {
        assert!(parse(&["seed", "--kc-url", "http://127.0.0.1:1"]).is_err());
        assert!(parse(&["seed", "--kc-url", "http://10.1.1.1", "--realm", "r"]).is_err());
        assert!(parse(&[
            "users2000",
            "--scim-url",
            "http://127.0.0.1:2",
            "--realm",
            "r",
            "--token",
            "t",
            "--seeded",
            "0"
        ])
        .is_err());
        assert!(parse(&["bench"]).is_err());
    }
}
