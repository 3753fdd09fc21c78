//! `/metrics` and the request counter middleware of the SCIM scope.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpResponse};

use super::request::KnownRealm;
use crate::telemetry::metrics;

/// `GET /metrics`: Prometheus text exposition.
pub async fn render() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics::render())
}

/// The resource kind of a SCIM path, from a fixed set (bounded labels).
fn resource_of(path: &str) -> &'static str {
    let tail = path.split("/scim/v2/").nth(1).unwrap_or_default();
    match tail.split('/').next().unwrap_or_default() {
        "Users" => "Users",
        "Groups" => "Groups",
        "Schemas" => "Schemas",
        "ResourceTypes" => "ResourceTypes",
        "ServiceProviderConfig" => "ServiceProviderConfig",
        _ => "other",
    }
}

/// Counts every SCIM request by realm (when it resolved), resource, method
/// and status.
pub async fn count_requests(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let resource = resource_of(req.path());
    let method: &'static str = match req.method().as_str() {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        _ => "other",
    };
    let response = next.call(req).await?;
    if let Some(m) = metrics::metrics() {
        let realm = response
            .request()
            .extensions()
            .get::<KnownRealm>()
            .map_or_else(|| "-".to_owned(), |r| r.0.clone());
        let status = response.status().as_u16().to_string();
        m.requests
            .with_label_values(&[realm.as_str(), resource, method, status.as_str()])
            .inc();
    }
    Ok(response)
}
