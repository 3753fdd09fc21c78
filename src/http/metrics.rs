//! `GET /metrics`. Requests are counted where they are logged, when they end
//! ([`super::span`]).

use actix_web::HttpResponse;

use crate::telemetry::metrics;

/// `GET /metrics`: Prometheus text exposition.
pub(super) async fn render() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(metrics::render())
}
