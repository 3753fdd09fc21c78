//! The request span: a failed request's log line names its request (id,
//! realm, resource, id) in the JSON log format, and `X-Request-Id` is echoed.

mod common;

use actix_web::{test, App};
use common::memory::state;
use common::Lines;
use kc_scim::http;
use serde_json::{json, Value};
use tracing_subscriber::EnvFilter;

#[actix_web::test]
async fn a_failed_patch_logs_one_line_naming_its_request_and_echoes_the_request_id() {
    let lines = Lines::default();
    let _guard = tracing::subscriber::set_default(kc_scim::telemetry::json_subscriber(
        EnvFilter::new("info"),
        lines.clone(),
    ));
    let (data, token) = state();
    let app = test::init_service(
        App::new()
            .wrap(actix_web::middleware::from_fn(http::echo_request_id))
            .wrap(http::request_logger())
            .configure(|cfg| http::configure(cfg, data.clone())),
    )
    .await;
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": "active", "value": false}]});
    let resp = test::call_service(
        &app,
        test::TestRequest::patch()
            .uri("/realms/acme/scim/v2/Users/no-such-user?secret=hunter2")
            .insert_header(("Authorization", format!("Bearer {token}")))
            .insert_header(("X-Request-Id", "req-42"))
            .insert_header(("Content-Type", "application/scim+json"))
            .set_payload(patch.to_string())
            .to_request(),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 404);
    assert_eq!(
        resp.headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("req-42")
    );
    // An id that could forge log lines is replaced, and the new one echoed.
    let resp = test::call_service(
        &app,
        test::TestRequest::get()
            .uri("/realms/acme/scim/v2/Users")
            .insert_header(("X-Request-Id", "a b\tc"))
            .to_request(),
    )
    .await;
    assert_eq!(resp.status().as_u16(), 401);
    let echoed = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&echoed).is_ok(), "{echoed}");

    let text = String::from_utf8(lines.0.lock().expect("lock").clone()).expect("utf-8");
    let failed: Vec<Value> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["span"]["request_id"] == "req-42")
        .collect();
    // The audit event of the write names its request too.
    assert!(failed.iter().any(|l| l["target"] == "audit"), "{text}");
    let failed: Vec<&Value> = failed
        .iter()
        .filter(|l| l["target"] == "kc_scim::http::span")
        .collect();
    assert_eq!(failed.len(), 1, "one line per failed request: {text}");
    let line = failed[0];
    println!("{}", serde_json::to_string(line).unwrap_or_default());
    let span = &line["span"];
    assert_eq!(span["realm"], "acme", "{line}");
    assert_eq!(span["resource"], "Users", "{line}");
    assert_eq!(span["id"], "no-such-user", "{line}");
    assert_eq!(span["method"], "PATCH", "{line}");
    assert_eq!(
        span["route"], "/realms/{realm}/scim/v2/Users/{id}",
        "{line}"
    );
    assert_eq!(span["status"], 404, "{line}");
    assert_eq!(line["spans"][0]["request_id"], "req-42", "{line}");
    assert!(!text.contains(&token), "no token in the log: {text}");
    assert!(
        !text.contains("hunter2"),
        "no query string in the log: {text}"
    );
}
