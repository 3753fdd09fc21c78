//! Logging with `tracing-subscriber`: human-readable lines for a terminal, one
//! JSON object per line on request. Logs go to stderr so that stdout stays for
//! command output (a new token is the last line of stdout). A JSON line
//! carries the innermost span (`span`) and every enclosing one (`spans`), so
//! a line emitted deep inside a request still names the request's span
//! fields (`http::span`).

pub mod metrics;

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber. `RUST_LOG` overrides `level` when set.
/// Calling it twice is harmless (the second call changes nothing).
pub fn init(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    match format {
        LogFormat::Json => {
            let _ = json_subscriber(filter, std::io::stderr).try_init();
        }
        LogFormat::Pretty => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(filter)
                .with_writer(std::io::stderr)
                .with_target(false)
                .compact()
                .try_init();
        }
    }
}

/// The JSON log format, one object per line, written to `writer` (tests
/// capture lines with it).
pub fn json_subscriber<W>(filter: EnvFilter, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
        .finish()
}
