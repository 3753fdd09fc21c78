//! The root span of every request (a [`RootSpanBuilder`] for
//! `tracing-actix-web`), and the one place where a finished request is logged
//! and counted: the error with its cause, once; `http_requests_total`,
//! `scim_errors_total` and `auth_failures_total`.
//!
//! The span carries `request_id` (a sane incoming `X-Request-Id`, else a new
//! one, echoed back by [`echo_request_id`]), `method`, `route`, `realm`,
//! `resource`, `id`, then `status` and `latency_ms`, so every log line emitted
//! inside a request (directory and Keycloak lines too) names its request.
//!
//! Invariant: no span field holds a secret. Fields come from the route
//! pattern and the path segments it names (realm, id), never from headers
//! (no `Authorization`), the query string or the body; values are bounded.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use tracing::field::Empty;
use tracing::Span;
use tracing_actix_web::{RootSpanBuilder, TracingLogger};

use super::authorized::KnownRealm;
use super::error::{ApiError, Cause};
use crate::telemetry::metrics::metrics;

/// The request id header, read and echoed.
pub const REQUEST_ID: &str = "x-request-id";

/// Longest incoming request id kept; longer ones are replaced.
const MAX_REQUEST_ID: usize = 64;

/// Longest path segment copied into a span field (realm, id).
const MAX_SEGMENT: usize = 128;

/// The id of one request, in the request's extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// When the request started, for `latency_ms`.
#[derive(Clone, Copy)]
struct Started(Instant);

/// The root span builder of the service.
pub struct ScimRootSpan;

/// The request span middleware; wrap it outside [`echo_request_id`].
#[must_use]
pub fn request_logger() -> TracingLogger<ScimRootSpan> {
    TracingLogger::new()
}

/// Whether an incoming `X-Request-Id` is kept: a short token of letters,
/// digits, `-`, `_`, `.` and `:` (a UUID, a ULID, a trace id). Anything else
/// could forge or bloat log lines and is replaced by a new id.
#[must_use]
pub fn is_sane_request_id(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= MAX_REQUEST_ID
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// The request id to use: the incoming one when sane, else a new UUID.
fn request_id_of(incoming: Option<&str>) -> String {
    match incoming {
        Some(v) if is_sane_request_id(v) => v.to_owned(),
        _ => uuid::Uuid::new_v4().to_string(),
    }
}

/// What the span and the metrics know about a request from its route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFields {
    /// Whether the path is under `/realms/{realm}/scim/v2` (counted requests).
    pub scim: bool,
    /// The realm segment of the path, as sent (bounded).
    pub realm: Option<String>,
    /// The resource kind, from a fixed set (bounded labels).
    pub resource: &'static str,
    /// The resource id, when the route pattern has one.
    pub id: Option<String>,
}

fn bounded(segment: &str) -> String {
    segment.chars().take(MAX_SEGMENT).collect()
}

/// Reads realm, resource and id from a request path and its route pattern
/// (`None` when no route matched). Outside the SCIM scope, resource is `-`.
#[must_use]
pub fn route_fields(pattern: Option<&str>, path: &str) -> RouteFields {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let scim = segments.len() >= 4
        && segments[0] == "realms"
        && !segments[1].is_empty()
        && segments[2] == "scim"
        && segments[3] == "v2";
    if !scim {
        return RouteFields {
            scim,
            realm: None,
            resource: "-",
            id: None,
        };
    }
    let resource = match segments.get(4).copied().unwrap_or_default() {
        "Users" => "Users",
        "Groups" => "Groups",
        "Schemas" => "Schemas",
        "ResourceTypes" => "ResourceTypes",
        "ServiceProviderConfig" => "ServiceProviderConfig",
        _ => "other",
    };
    let id_in_pattern = pattern
        .map(|p| p.trim_start_matches('/').split('/').nth(5))
        .is_some_and(|s| s.is_some_and(|s| s.starts_with('{') && s.ends_with('}')));
    let id = segments
        .get(5)
        .filter(|s| id_in_pattern && !s.is_empty())
        .map(|s| bounded(s));
    RouteFields {
        scim,
        realm: Some(bounded(segments[1])),
        resource,
        id,
    }
}

/// The route pattern [`super::configure`] matches for `path`, or `None`
/// when no route does, read from the path's segments. Asking the router
/// instead (`match_pattern`) runs every route's regex a second time, which
/// cost more CPU than the rest of a request's own work; a test checks this
/// table against the router for every route.
#[must_use]
pub fn route_pattern(path: &str) -> Option<&'static str> {
    match path {
        "/healthz" => return Some("/healthz"),
        "/readyz" => return Some("/readyz"),
        "/metrics" => return Some("/metrics"),
        _ => {}
    }
    let (realm, rest) = path.strip_prefix("/realms/")?.split_once('/')?;
    if realm.is_empty() {
        return None;
    }
    let rest = rest.strip_prefix("scim/v2/")?;
    let (first, second) = match rest.split_once('/') {
        Some((first, second)) => (first, Some(second)),
        None => (rest, None),
    };
    let dynamic = |s: &str| !s.is_empty() && !s.contains('/');
    Some(match (first, second) {
        ("ServiceProviderConfig", None) => "/realms/{realm}/scim/v2/ServiceProviderConfig",
        ("ResourceTypes", None) => "/realms/{realm}/scim/v2/ResourceTypes",
        ("ResourceTypes", Some(s)) if dynamic(s) => "/realms/{realm}/scim/v2/ResourceTypes/{name}",
        ("Schemas", None) => "/realms/{realm}/scim/v2/Schemas",
        ("Schemas", Some(s)) if dynamic(s) => "/realms/{realm}/scim/v2/Schemas/{id}",
        (".search", None) => "/realms/{realm}/scim/v2/.search",
        ("Users", None) => "/realms/{realm}/scim/v2/Users",
        ("Users", Some(".search")) => "/realms/{realm}/scim/v2/Users/.search",
        ("Users", Some(s)) if dynamic(s) => "/realms/{realm}/scim/v2/Users/{id}",
        ("Groups", None) => "/realms/{realm}/scim/v2/Groups",
        ("Groups", Some(".search")) => "/realms/{realm}/scim/v2/Groups/.search",
        ("Groups", Some(s)) if dynamic(s) => "/realms/{realm}/scim/v2/Groups/{id}",
        _ => return None,
    })
}

/// The method, from a fixed set (bounded labels).
#[must_use]
pub fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        _ => "other",
    }
}

impl RootSpanBuilder for ScimRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let incoming = request
            .headers()
            .get(REQUEST_ID)
            .and_then(|v| v.to_str().ok());
        let request_id = request_id_of(incoming);
        let pattern = route_pattern(request.path());
        let fields = route_fields(pattern, request.path());
        // Every field known now is given now: the JSON formatter rewrites
        // the span's fields on each `record`.
        let span = tracing::info_span!(
            "request",
            request_id = %request_id,
            method = method_label(request.method().as_str()),
            route = pattern.unwrap_or("-"),
            realm = fields.realm.as_deref(),
            resource = fields.resource,
            id = fields.id.as_deref(),
            status = Empty,
            latency_ms = Empty,
        );
        let mut extensions = request.extensions_mut();
        extensions.insert(RequestId(request_id));
        extensions.insert(Started(Instant::now()));
        span
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        let (status, error) = match outcome {
            Ok(response) => (response.status(), response.response().error()),
            Err(error) => (error.as_response_error().status_code(), Some(error)),
        };
        let request = outcome.as_ref().ok().map(ServiceResponse::request);
        let api_error = error.and_then(Error::as_error::<ApiError>);
        if let Some(error) = error {
            // Status and latency only matter to the one line logged here; a
            // request that succeeds logs nothing, so it records nothing.
            span.record("status", status.as_u16());
            if let Some(Started(at)) =
                request.and_then(|r| r.extensions().get::<Started>().copied())
            {
                let ms = u64::try_from(at.elapsed().as_millis()).unwrap_or(u64::MAX);
                span.record("latency_ms", ms);
            }
            log_error(status, api_error, error);
        }
        count(request, status, api_error);
    }
}

/// One log line per failed request: the cause chain when the failure is not
/// the caller's, else the status and `scimType` (a client's detail may echo
/// the values it sent).
fn log_error(status: StatusCode, api_error: Option<&ApiError>, error: &Error) {
    let Some(api) = api_error else {
        tracing::info!(status = status.as_u16(), error = %error, "request failed");
        return;
    };
    let scim_type = api.scim().scim_type.map_or("none", |t| t.as_str());
    match api.cause() {
        Some(Cause::Refused(reason)) => {
            tracing::info!(reason, status = status.as_u16(), "authentication failed");
        }
        Some(Cause::Unavailable(detail)) => {
            tracing::warn!(%detail, status = status.as_u16(), "backend unavailable");
        }
        Some(Cause::Misconfigured(cause)) => tracing::error!(
            %cause,
            status = status.as_u16(),
            "the service's Keycloak account lacks a role"
        ),
        Some(Cause::Backend(cause)) => {
            tracing::error!(%cause, status = status.as_u16(), "backend error");
        }
        None => tracing::info!(status = status.as_u16(), scim_type, "request failed"),
    }
}

/// Counts a finished request: SCIM requests by realm (when it resolved),
/// resource, method and status; error responses by `scimType`; refused
/// credentials by reason.
fn count(request: Option<&actix_web::HttpRequest>, status: StatusCode, error: Option<&ApiError>) {
    let Some(m) = metrics() else {
        return;
    };
    if let Some(error) = error {
        let scim_type = error.scim().scim_type.map_or("none", |t| t.as_str());
        m.scim_errors
            .with_label_values(&[scim_type, &error.scim().status.to_string()])
            .inc();
        if let Some(Cause::Refused(reason)) = error.cause() {
            m.auth_failures.with_label_values(&[reason]).inc();
        }
    }
    let Some(request) = request else {
        return;
    };
    let fields = route_fields(None, request.path());
    if !fields.scim {
        return;
    }
    let realm = request
        .extensions()
        .get::<KnownRealm>()
        .map_or_else(|| "-".to_owned(), |r| r.0.clone());
    if let (Some(error), true) = (error, realm != "-") {
        crate::telemetry::metrics::record_failure(
            &realm,
            crate::telemetry::metrics::FailedRequest {
                at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                resource: fields.resource.to_owned(),
                method: method_label(request.method().as_str()).to_owned(),
                status: status.as_u16(),
                scim_type: error
                    .scim()
                    .scim_type
                    .map_or("none", |t| t.as_str())
                    .to_owned(),
            },
        );
    }
    let status = status.as_u16().to_string();
    m.requests
        .with_label_values(&[
            realm.as_str(),
            fields.resource,
            method_label(request.method().as_str()),
            status.as_str(),
        ])
        .inc();
}

/// Echoes the request's id as `X-Request-Id` on every response; wrap it
/// inside [`request_logger`], which assigns the id.
pub async fn echo_request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let mut response = next.call(req).await?;
    let id = response.request().extensions().get::<RequestId>().cloned();
    if let Some(value) = id.and_then(|id| HeaderValue::from_str(&id.0).ok()) {
        response
            .headers_mut()
            .insert(HeaderName::from_static(REQUEST_ID), value);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_kept_only_when_short_printable_tokens() {
        let table = [
            ("4f1c2a9e-5b7d-4c1e-9a3f-0e2d6b8c7a10", true),
            ("01HZX3K9Q7", true),
            ("trace:span.1_a", true),
            ("", false),
            ("has space", false),
            ("new\nline", false),
            ("quote\"d", false),
            ("ünïcode", false),
            (&"a".repeat(64), true),
            (&"a".repeat(65), false),
        ];
        for (value, sane) in table {
            assert_eq!(is_sane_request_id(value), sane, "{value:?}");
        }
    }

    #[test]
    fn an_insane_request_id_is_replaced_by_a_new_uuid() {
        assert_eq!(request_id_of(Some("abc-1")), "abc-1");
        for bad in [None, Some(""), Some("a b"), Some("x\r\nSet-Cookie: y")] {
            let id = request_id_of(bad);
            assert!(uuid::Uuid::parse_str(&id).is_ok(), "{bad:?} gave {id}");
        }
    }

    #[test]
    fn route_fields_name_realm_resource_and_id_from_the_route() {
        const ID: &str = "/realms/{realm}/scim/v2/Users/{id}";
        let fields = |scim, realm: Option<&str>, resource, id: Option<&str>| RouteFields {
            scim,
            realm: realm.map(str::to_owned),
            resource,
            id: id.map(str::to_owned),
        };
        let table = [
            (
                Some(ID),
                "/realms/acme/scim/v2/Users/u-1",
                fields(true, Some("acme"), "Users", Some("u-1")),
            ),
            (
                Some("/realms/{realm}/scim/v2/Groups/{id}"),
                "/realms/acme/scim/v2/Groups/g-1",
                fields(true, Some("acme"), "Groups", Some("g-1")),
            ),
            (
                Some("/realms/{realm}/scim/v2/Users"),
                "/realms/acme/scim/v2/Users",
                fields(true, Some("acme"), "Users", None),
            ),
            (
                Some("/realms/{realm}/scim/v2/Users/.search"),
                "/realms/acme/scim/v2/Users/.search",
                fields(true, Some("acme"), "Users", None),
            ),
            (
                Some("/realms/{realm}/scim/v2/Schemas/{id}"),
                "/realms/acme/scim/v2/Schemas/urn:x",
                fields(true, Some("acme"), "Schemas", Some("urn:x")),
            ),
            (
                None,
                "/realms/acme/scim/v2/Nope/x",
                fields(true, Some("acme"), "other", None),
            ),
            (
                None,
                "/realms/acme/scim/v2",
                fields(true, Some("acme"), "other", None),
            ),
            (Some("/healthz"), "/healthz", fields(false, None, "-", None)),
            (None, "/realms/acme/other", fields(false, None, "-", None)),
            (
                None,
                "/realms//scim/v2/Users",
                fields(false, None, "-", None),
            ),
            (
                None,
                "/realms/acme/scim/v2x",
                fields(false, None, "-", None),
            ),
        ];
        for (pattern, path, want) in table {
            assert_eq!(route_fields(pattern, path), want, "{path}");
        }
    }

    #[test]
    fn route_fields_bound_what_they_copy_from_the_path() {
        let long = "x".repeat(1_000);
        let f = route_fields(
            Some("/realms/{realm}/scim/v2/Users/{id}"),
            &format!("/realms/{long}/scim/v2/Users/{long}"),
        );
        assert_eq!(f.realm.map(|r| r.len()), Some(MAX_SEGMENT));
        assert_eq!(f.id.map(|r| r.len()), Some(MAX_SEGMENT));
    }

    #[test]
    fn methods_outside_the_scim_set_share_one_label() {
        for (method, label) in [
            ("GET", "GET"),
            ("PATCH", "PATCH"),
            ("OPTIONS", "other"),
            ("get", "other"),
        ] {
            assert_eq!(method_label(method), label);
        }
    }
}
