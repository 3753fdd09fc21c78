//! `kc-scim-bench`: the load driver behind `make bench`, `make bench-quick`
//! and `make bench-users-2000` (docs/benchmarks.md). Not part of the product.
//!
//! It replays Entra-shaped workloads against three targets on one Keycloak,
//! side by side, in one run:
//!
//! * `a` — kc-scim (`kc-scim serve`, a separate release process);
//! * `b` — Keycloak's own SCIM API (`--features=scim-api`) on a second realm
//!   with the same template and the same seeded data;
//! * `c` — the raw Admin API calls a perfect translator would make, on the
//!   realm kc-scim serves.
//!
//! Workloads (each at every requested concurrency, targets interleaved so
//! that the three numbers of a row were measured close together in time):
//! `sync` (`externalId eq` lookup that misses, then create with the body of
//! Entra's tutorial), `steady` (get, PATCH replace name, PATCH active
//! false), `groups` (PATCH Add one member), `list` (pages of 100 at random
//! start indexes); `growth` measures lookups, GET, PATCH and pages of a and
//! c as the realm is seeded from one size to the next; `cpu` compares the
//! CPU µs per request of running kc-scim builds, taking turns. Keycloak
//! calls per SCIM operation of kc-scim come from an in-process server built
//! with the library (`KcAdmin::stats()`), since the separate process exposes
//! no call counter.
//!
//! Invariant: only loopback URLs are accepted (checked in [`args`]), and
//! every phase has a request count and a time bound. Exit status 0 when the
//! step succeeded, 1 when a check or a kc-scim request failed, 2 for a bad
//! command line.

mod args;
mod calibrate;
mod cpu;
mod growth;
mod phases;
mod report;
mod run;
mod setup;
mod targets;
mod tokens;
mod users2000;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kc-scim-bench: tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        match &cli.command {
            Command::Seed(a) => setup::seed(a).await,
            Command::SetupNative(a) => setup::setup_native(a).await,
            Command::Run(a) => run::run(a).await,
            Command::Users2000(a) => users2000::users2000(a).await,
            Command::Growth(a) => growth::growth(a).await,
            Command::Cpu(a) => cpu::compare(a).await,
        }
    });
    // Token refreshers and the in-process server end with the process.
    runtime.shutdown_background();
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("kc-scim-bench: {e:#}");
            ExitCode::FAILURE
        }
    }
}
