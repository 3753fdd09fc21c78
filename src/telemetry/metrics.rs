//! Prometheus metrics: one registry for the process, with the families
//! docs/operations.md describes. Labels carry only bounded values (realm
//! names that resolved, resource kinds, methods, status codes, `scimType`s,
//! failure reasons): never an id, a filter or a credential. Beside them,
//! the last few failed SCIM requests per realm, for the admin page.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};

use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};

/// The metric families of the service.
pub struct Metrics {
    registry: Registry,
    /// SCIM requests by realm, resource, method and status.
    pub requests: IntCounterVec,
    /// SCIM error responses by `scimType` (`none` when the error has none).
    pub scim_errors: IntCounterVec,
    /// Keycloak Admin API call latency, by method.
    pub keycloak_latency: HistogramVec,
    /// Keycloak calls that failed (transport error or 5xx), by kind.
    pub keycloak_errors: IntCounterVec,
    /// Refused credentials, by reason.
    pub auth_failures: IntCounterVec,
    /// Admin token requests.
    pub token_refreshes: IntCounter,
    /// Requests refused because a realm's in-flight limit was reached.
    pub backpressure_rejections: IntCounterVec,
    /// Disables / deletes refused by the mass-deprovision breaker, by realm.
    pub breaker_refusals: IntCounterVec,
    /// Times the mass-deprovision breaker tripped, by realm.
    pub breaker_trips: IntCounterVec,
    /// Passkey onboarding emails, by realm and outcome (`sent` / `failed`).
    pub onboarding_emails: IntCounterVec,
    /// Per-user logouts of a disable or delete, by realm and outcome.
    pub session_logouts: IntCounterVec,
}

fn build() -> Result<Metrics, prometheus::Error> {
    let registry = Registry::new_custom(Some("kcscim".to_owned()), None)?;
    let requests = IntCounterVec::new(
        Opts::new("http_requests_total", "SCIM requests"),
        &["realm", "resource", "method", "status"],
    )?;
    let scim_errors = IntCounterVec::new(
        Opts::new("scim_errors_total", "SCIM error responses by scimType"),
        &["scim_type", "status"],
    )?;
    let keycloak_latency = HistogramVec::new(
        HistogramOpts::new(
            "keycloak_request_duration_seconds",
            "Keycloak Admin API call latency",
        )
        .buckets(vec![
            0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ]),
        &["method"],
    )?;
    let keycloak_errors = IntCounterVec::new(
        Opts::new("keycloak_errors_total", "Failed Keycloak Admin API calls"),
        &["kind"],
    )?;
    let auth_failures = IntCounterVec::new(
        Opts::new("auth_failures_total", "Refused bearer credentials"),
        &["reason"],
    )?;
    let token_refreshes = IntCounter::new("admin_token_refreshes_total", "Admin token requests")?;
    let backpressure_rejections = IntCounterVec::new(
        Opts::new(
            "backpressure_rejections_total",
            "Requests answered 429 because the realm's in-flight limit was reached",
        ),
        &["realm"],
    )?;
    let breaker_refusals = IntCounterVec::new(
        Opts::new(
            "deprovision_breaker_refusals_total",
            "Disables and deletes refused by the mass-deprovision breaker",
        ),
        &["realm"],
    )?;
    let breaker_trips = IntCounterVec::new(
        Opts::new(
            "deprovision_breaker_trips_total",
            "Times the mass-deprovision breaker tripped",
        ),
        &["realm"],
    )?;
    let onboarding_emails = IntCounterVec::new(
        Opts::new(
            "onboarding_emails_total",
            "Passkey onboarding emails asked of Keycloak, by outcome",
        ),
        &["realm", "outcome"],
    )?;
    let session_logouts = IntCounterVec::new(
        Opts::new(
            "session_logouts_total",
            "Per-user logouts made by a SCIM disable or delete, by outcome",
        ),
        &["realm", "outcome"],
    )?;
    registry.register(Box::new(onboarding_emails.clone()))?;
    registry.register(Box::new(session_logouts.clone()))?;
    registry.register(Box::new(requests.clone()))?;
    registry.register(Box::new(scim_errors.clone()))?;
    registry.register(Box::new(keycloak_latency.clone()))?;
    registry.register(Box::new(keycloak_errors.clone()))?;
    registry.register(Box::new(auth_failures.clone()))?;
    registry.register(Box::new(token_refreshes.clone()))?;
    registry.register(Box::new(backpressure_rejections.clone()))?;
    registry.register(Box::new(breaker_refusals.clone()))?;
    registry.register(Box::new(breaker_trips.clone()))?;
    Ok(Metrics {
        registry,
        requests,
        scim_errors,
        keycloak_latency,
        keycloak_errors,
        auth_failures,
        token_refreshes,
        backpressure_rejections,
        breaker_refusals,
        breaker_trips,
        onboarding_emails,
        session_logouts,
    })
}

/// The process's metrics, created on first use; `None` only if the
/// definitions above were invalid (a programming error caught by tests).
pub fn metrics() -> Option<&'static Metrics> {
    static METRICS: OnceLock<Option<Metrics>> = OnceLock::new();
    METRICS.get_or_init(|| build().ok()).as_ref()
}

/// The text exposition of every metric.
#[must_use]
pub fn render() -> String {
    let Some(m) = metrics() else {
        return String::new();
    };
    let mut out = Vec::new();
    if TextEncoder::new()
        .encode(&m.registry.gather(), &mut out)
        .is_err()
    {
        return String::new();
    }
    String::from_utf8(out).unwrap_or_default()
}

/// One row of a realm's SCIM request counts: resource, method, status, count.
pub type ActivityRow = (String, String, String, u64);

/// The SCIM requests this process answered for `realm` since it started,
/// by resource, method and status (from the request counter), sorted.
#[must_use]
pub fn realm_activity(realm: &str) -> Vec<ActivityRow> {
    let Some(m) = metrics() else {
        return Vec::new();
    };
    let mut rows = Vec::new();
    for family in m.registry.gather() {
        if family.name() != "kcscim_http_requests_total" {
            continue;
        }
        for metric in family.get_metric() {
            let label = |name: &str| {
                metric
                    .get_label()
                    .iter()
                    .find(|l| l.name() == name)
                    .map(|l| l.value().to_owned())
                    .unwrap_or_default()
            };
            if label("realm") != realm {
                continue;
            }
            // A counter's value is a whole number stored as f64.
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            let count = metric.get_counter().get_value() as u64;
            rows.push((label("resource"), label("method"), label("status"), count));
        }
    }
    rows.sort();
    rows
}

/// Most recent failed SCIM requests kept per realm (this process only).
pub const LAST_ERRORS_PER_REALM: usize = 10;
/// Most realms whose recent failures are kept; one more evicts another.
const LAST_ERRORS_REALMS: usize = 1024;

/// A failed SCIM request: when, what, and how it was answered (never a
/// body, a detail text or a credential).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedRequest {
    /// When it was answered (RFC 3339, seconds).
    pub at: String,
    /// `Users`, `Groups`, …
    pub resource: String,
    /// The HTTP method.
    pub method: String,
    /// The HTTP status.
    pub status: u16,
    /// The RFC 7644 `scimType`, or `none`.
    pub scim_type: String,
}

fn failures() -> &'static Mutex<HashMap<String, VecDeque<FailedRequest>>> {
    static FAILURES: OnceLock<Mutex<HashMap<String, VecDeque<FailedRequest>>>> = OnceLock::new();
    FAILURES.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Remembers a failed request of an authenticated caller of `realm`.
pub fn record_failure(realm: &str, failure: FailedRequest) {
    let Ok(mut all) = failures().lock() else {
        return;
    };
    if !all.contains_key(realm) && all.len() >= LAST_ERRORS_REALMS {
        if let Some(evicted) = all.keys().next().cloned() {
            all.remove(&evicted);
        }
    }
    let recent = all.entry(realm.to_owned()).or_default();
    if recent.len() >= LAST_ERRORS_PER_REALM {
        recent.pop_front();
    }
    recent.push_back(failure);
}

/// The realm's most recent failed requests, newest first.
#[must_use]
pub fn recent_failures(realm: &str) -> Vec<FailedRequest> {
    failures()
        .lock()
        .ok()
        .and_then(|all| all.get(realm).map(|r| r.iter().rev().cloned().collect()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recent_failures_are_bounded_per_realm_and_newest_first() {
        let realm = "recent-failures-test";
        for status in 0..15u16 {
            record_failure(
                realm,
                FailedRequest {
                    at: "2026-01-01T00:00:00Z".to_owned(),
                    resource: "Users".to_owned(),
                    method: "POST".to_owned(),
                    status: 400 + status,
                    scim_type: "invalidValue".to_owned(),
                },
            );
        }
        let recent = recent_failures(realm);
        assert_eq!(recent.len(), LAST_ERRORS_PER_REALM);
        assert_eq!(recent[0].status, 414);
        assert!(recent_failures("no-such-realm").is_empty());
    }

    #[test]
    fn every_family_registers_and_renders() {
        let m = metrics().expect("metric definitions are valid");
        m.requests
            .with_label_values(&["r", "Users", "GET", "200"])
            .inc();
        m.token_refreshes.inc();
        let text = render();
        assert!(text.contains("kcscim_http_requests_total"), "{text}");
        assert!(
            text.contains("kcscim_admin_token_refreshes_total"),
            "{text}"
        );
    }
}
