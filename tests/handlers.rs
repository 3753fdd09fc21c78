//! Fast handler tests: the HTTP layer (routing, authentication, content
//! types, limits, query parsing, projection, error bodies) over the
//! in-memory directory. No Keycloak here: the same behaviour against a real
//! Keycloak is covered by tests/users.rs and tests/groups.rs.

mod common;

use actix_web::{test, App};
use common::memory::state;
use kc_scim::http;
use serde_json::{json, Value};

const BASE: &str = "/realms/acme/scim/v2";

macro_rules! app {
    ($data:expr) => {
        test::init_service(App::new().configure(|cfg| http::configure(cfg, $data.clone()))).await
    };
}

fn user(n: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": n, "active": true,
           "emails": [{"value": format!("{n}@x.test"), "type": "work", "primary": true}]})
}

/// Sends a request; returns status, headers and the JSON body (`Null` if none).
macro_rules! call {
    ($app:expr, $req:expr $(,)?) => {{
        let resp = test::call_service(&$app, $req.to_request()).await;
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = test::read_body(resp).await;
        (
            status,
            headers,
            serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
        )
    }};
}

fn scim_error(status: u16, headers: &actix_web::http::header::HeaderMap, body: &Value, want: u16) {
    assert_eq!(status, want, "{body}");
    assert_eq!(body["status"], want.to_string(), "{body}");
    assert_eq!(
        body["schemas"][0],
        "urn:ietf:params:scim:api:messages:2.0:Error"
    );
    assert_eq!(
        headers.get("content-type").and_then(|v| v.to_str().ok()),
        Some("application/scim+json")
    );
}

#[actix_web::test]
async fn user_lifecycle_over_http() {
    let (data, token) = state();
    let app = app!(data);
    let auth = ("Authorization", format!("Bearer {token}"));
    let (status, headers, created) = call!(
        app,
        test::TestRequest::post()
            .uri(&format!("{BASE}/Users"))
            .insert_header(auth.clone())
            .insert_header(("Content-Type", "application/scim+json"))
            .set_payload(user("alice").to_string()),
    );
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().expect("id").to_owned();
    assert!(headers.get("location").is_some());
    assert!(headers.get("etag").is_some());

    let (status, _, list) = call!(app, test::TestRequest::get()
            .uri(&format!(
                "{BASE}/Users?filter=userName%20eq%20%22ALICE%22&aadOptscim062020&attributes=userName"
            ))
            .insert_header(auth.clone()),
    );
    assert_eq!(status, 200);
    assert_eq!(list["totalResults"], 1);
    let found = &list["Resources"][0];
    assert_eq!(found["userName"], "alice");
    assert!(found.get("emails").is_none(), "projection: {found}");
    assert_eq!(found["id"], id.as_str(), "id is always returned");

    let (status, _, search) = call!(
        app,
        test::TestRequest::post()
            .uri(&format!("{BASE}/Users/.search"))
            .insert_header(auth.clone())
            .insert_header(("Content-Type", "application/json"))
            .set_payload(
                json!({"filter": "userName sw \"al\"", "startIndex": 0, "count": 5,
                       "excludedAttributes": ["emails"]})
                .to_string(),
            ),
    );
    assert_eq!(status, 200, "{search}");
    assert_eq!(search["startIndex"], 1, "startIndex < 1 is read as 1");
    assert!(search["Resources"][0].get("emails").is_none());

    let (status, _, patched) = call!(
        app,
        test::TestRequest::patch()
            .uri(&format!("{BASE}/Users/{id}"))
            .insert_header(auth.clone())
            .insert_header(("Content-Type", "application/scim+json"))
            .set_payload(
                json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                       "Operations": [{"op": "Replace", "path": "active", "value": "False"}]})
                .to_string(),
            ),
    );
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["active"], false);

    let (status, _, _) = call!(
        app,
        test::TestRequest::delete()
            .uri(&format!("{BASE}/Users/{id}"))
            .insert_header(auth.clone()),
    );
    assert_eq!(status, 204);
    let (status, headers, body) = call!(
        app,
        test::TestRequest::get()
            .uri(&format!("{BASE}/Users/{id}"))
            .insert_header(auth),
    );
    scim_error(status, &headers, &body, 404);
}

#[actix_web::test]
async fn every_refusal_is_a_scim_error_with_the_right_status() {
    let (data, token) = state();
    let app = app!(data);
    let bearer = format!("Bearer {token}");
    let cases: Vec<(test::TestRequest, u16, Option<&str>)> = vec![
        (
            test::TestRequest::get().uri(&format!("{BASE}/Users")),
            401,
            None,
        ),
        (
            test::TestRequest::get()
                .uri(&format!("{BASE}/Users"))
                .insert_header(("Authorization", "Bearer kcscim_nope")),
            401,
            None,
        ),
        (
            test::TestRequest::get()
                .uri("/realms/other/scim/v2/Users")
                .insert_header(("Authorization", bearer.clone())),
            401,
            None,
        ),
        (
            test::TestRequest::post()
                .uri(&format!("{BASE}/Users"))
                .insert_header(("Authorization", bearer.clone()))
                .insert_header(("Content-Type", "text/xml"))
                .set_payload("<user/>"),
            415,
            None,
        ),
        (
            test::TestRequest::post()
                .uri(&format!("{BASE}/Users"))
                .insert_header(("Authorization", bearer.clone()))
                .insert_header(("Content-Type", "application/scim+json"))
                .set_payload(format!("{{\"userName\":\"{}\"}}", "x".repeat(5000))),
            413,
            None,
        ),
        (
            test::TestRequest::post()
                .uri(&format!("{BASE}/Users"))
                .insert_header(("Authorization", bearer.clone()))
                .insert_header(("Content-Type", "application/scim+json"))
                .set_payload("{\"userName\":"),
            400,
            Some("invalidSyntax"),
        ),
        (
            test::TestRequest::get()
                .uri(&format!("{BASE}/Users?filter=userName%20xx%20%22a%22"))
                .insert_header(("Authorization", bearer.clone())),
            400,
            Some("invalidFilter"),
        ),
        (
            test::TestRequest::get()
                .uri(&format!("{BASE}/Users?sortOrder=sideways"))
                .insert_header(("Authorization", bearer.clone())),
            400,
            Some("invalidValue"),
        ),
        (
            test::TestRequest::get()
                .uri(&format!("{BASE}/Nothing"))
                .insert_header(("Authorization", bearer.clone())),
            404,
            None,
        ),
        (test::TestRequest::get().uri("/elsewhere"), 404, None),
    ];
    for (req, want, scim_type) in cases {
        let (status, headers, body) = call!(app, req);
        scim_error(status, &headers, &body, want);
        if let Some(t) = scim_type {
            assert_eq!(body["scimType"], t, "{body}");
        }
    }
}

#[actix_web::test]
async fn groups_over_http_honour_excluded_members() {
    let (data, token) = state();
    let app = app!(data);
    let auth = ("Authorization", format!("Bearer {token}"));
    let (status, _, group) = call!(
        app,
        test::TestRequest::post()
            .uri(&format!("{BASE}/Groups"))
            .insert_header(auth.clone())
            .insert_header(("Content-Type", "application/scim+json"))
            .set_payload(
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                       "displayName": "Team", "members": [{"value": "u1"}]})
                .to_string(),
            ),
    );
    assert_eq!(status, 201, "{group}");
    let (status, _, list) = call!(
        app,
        test::TestRequest::get()
            .uri(&format!(
                "{BASE}/Groups?excludedAttributes=members&filter=displayName%20eq%20%22Team%22"
            ))
            .insert_header(auth.clone()),
    );
    assert_eq!(status, 200);
    assert_eq!(list["totalResults"], 1);
    assert!(list["Resources"][0].get("members").is_none(), "{list}");
    let (status, _, types) = call!(
        app,
        test::TestRequest::get()
            .uri(&format!("{BASE}/ResourceTypes"))
            .insert_header(auth),
    );
    assert_eq!(status, 200);
    assert_eq!(types["totalResults"], 2);
}

#[actix_web::test]
async fn methods_an_endpoint_does_not_serve_answer_405_with_allow_after_authentication() {
    let (data, token) = state();
    let app = app!(data);
    let auth = ("Authorization", format!("Bearer {token}"));
    let cases = [
        ("POST", "/ServiceProviderConfig", "GET"),
        ("PUT", "/ResourceTypes", "GET"),
        ("DELETE", "/ResourceTypes/User", "GET"),
        ("PATCH", "/Schemas", "GET"),
        (
            "POST",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
            "GET",
        ),
        ("DELETE", "/Users", "GET, POST"),
        ("GET", "/Users/.search", "POST"),
        ("POST", "/Users/some-id", "GET, PUT, PATCH, DELETE"),
        ("PUT", "/Groups", "GET, POST"),
        ("POST", "/Groups/some-id", "GET, PUT, PATCH, DELETE"),
    ];
    for (method, path, allow) in cases {
        let method = actix_web::http::Method::from_bytes(method.as_bytes()).expect("method");
        let (status, headers, body) = call!(
            app,
            test::TestRequest::default()
                .method(method.clone())
                .uri(&format!("{BASE}{path}"))
                .insert_header(auth.clone()),
        );
        scim_error(status, &headers, &body, 405);
        assert_eq!(
            headers.get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
        // Without a credential the same request learns only 401.
        let (status, headers, body) = call!(
            app,
            test::TestRequest::default()
                .method(method.clone())
                .uri(&format!("{BASE}{path}")),
        );
        scim_error(status, &headers, &body, 401);
    }
    // The methods an endpoint does serve are untouched.
    let (status, _, _) = call!(
        app,
        test::TestRequest::get()
            .uri(&format!("{BASE}/ServiceProviderConfig"))
            .insert_header(auth.clone()),
    );
    assert_eq!(status, 200);
}

#[actix_web::test]
async fn root_search_pages_through_users_then_groups() {
    let (data, token) = state();
    let app = app!(data);
    let auth = ("Authorization", format!("Bearer {token}"));
    for n in ["ann", "bob"] {
        let (status, _, body) = call!(
            app,
            test::TestRequest::post()
                .uri(&format!("{BASE}/Users"))
                .insert_header(auth.clone())
                .insert_header(("Content-Type", "application/scim+json"))
                .set_payload(user(n).to_string()),
        );
        assert_eq!(status, 201, "{body}");
    }
    let group =
        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Sales"});
    let (status, _, body) = call!(
        app,
        test::TestRequest::post()
            .uri(&format!("{BASE}/Groups"))
            .insert_header(auth.clone())
            .insert_header(("Content-Type", "application/scim+json"))
            .set_payload(group.to_string()),
    );
    assert_eq!(status, 201, "{body}");
    let search = |start: usize, count: usize| {
        json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "startIndex": start,
            "count": count,
            "attributes": ["userName", "displayName"],
        })
    };
    let mut seen = Vec::new();
    for start in [1, 3] {
        let (status, _, page) = call!(
            app,
            test::TestRequest::post()
                .uri(&format!("{BASE}/.search"))
                .insert_header(auth.clone())
                .insert_header(("Content-Type", "application/scim+json"))
                .set_payload(search(start, 2).to_string()),
        );
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["totalResults"], 3, "{page}");
        assert_eq!(page["startIndex"], start, "{page}");
        for r in page["Resources"].as_array().expect("Resources") {
            assert!(r.get("emails").is_none(), "projection not applied: {r}");
            seen.push(
                r["userName"]
                    .as_str()
                    .or_else(|| r["displayName"].as_str())
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
    }
    assert_eq!(seen, ["ann", "bob", "Sales"]);
}

#[actix_web::test]
async fn a_filter_on_an_unknown_attribute_is_invalid_filter_naming_it() {
    let (data, token) = state();
    let app = app!(data);
    let auth = ("Authorization", format!("Bearer {token}"));
    for (path, name) in [
        ("/Users?filter=foo%20eq%20%22x%22", "foo"),
        ("/Groups?filter=displayNam%20eq%20%22x%22", "displayNam"),
    ] {
        let (status, headers, body) = call!(
            app,
            test::TestRequest::get()
                .uri(&format!("{BASE}{path}"))
                .insert_header(auth.clone()),
        );
        scim_error(status, &headers, &body, 400);
        assert_eq!(body["scimType"], "invalidFilter", "{body}");
        assert!(
            body["detail"].as_str().is_some_and(|d| d.contains(name)),
            "{body}"
        );
    }
    let (status, _, body) = call!(
        app,
        test::TestRequest::get()
            .uri(&format!("{BASE}/Users?filter=userName%20eq%20%22x%22"))
            .insert_header(auth.clone()),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["totalResults"], 0, "{body}");
}

/// The request span names the route from the path alone
/// (`span::route_pattern`); the router must agree on every route, on paths
/// next to them and on paths no route matches.
#[actix_web::test]
async fn the_span_route_of_a_path_is_the_pattern_the_router_matches() {
    use actix_web::body::MessageBody;
    use actix_web::dev::{ServiceRequest, ServiceResponse};
    use actix_web::middleware::{from_fn, Next};

    async fn router_pattern(
        req: ServiceRequest,
        next: Next<impl MessageBody>,
    ) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
        let pattern = req.match_pattern().unwrap_or_else(|| "-".to_owned());
        let mut resp = next.call(req).await?;
        if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&pattern) {
            resp.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static("x-pattern"),
                value,
            );
        }
        Ok(resp)
    }

    let (data, _) = state();
    let app = test::init_service(
        App::new()
            .wrap(from_fn(router_pattern))
            .configure(|cfg| http::configure(cfg, data.clone())),
    )
    .await;
    let paths = [
        "/healthz",
        "/readyz",
        "/metrics",
        "/metrics/x",
        "/",
        "/realms",
        "/realms/acme",
        "/realms/acme/scim",
        "/realms/acme/scim/v2",
        "/realms/acme/scim/v2/",
        "/realms/acme/scim/v2x/Users",
        "/realms//scim/v2/Users",
        "/realms/acme/scim/v2/ServiceProviderConfig",
        "/realms/acme/scim/v2/ServiceProviderConfig/x",
        "/realms/acme/scim/v2/ResourceTypes",
        "/realms/acme/scim/v2/ResourceTypes/User",
        "/realms/acme/scim/v2/ResourceTypes/User/x",
        "/realms/acme/scim/v2/Schemas",
        "/realms/acme/scim/v2/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        "/realms/acme/scim/v2/.search",
        "/realms/acme/scim/v2/Users",
        "/realms/acme/scim/v2/Users/",
        "/realms/acme/scim/v2/Users/.search",
        "/realms/acme/scim/v2/Users/u-1",
        "/realms/acme/scim/v2/Users/u-1/x",
        "/realms/acme/scim/v2/Groups",
        "/realms/acme/scim/v2/Groups/.search",
        "/realms/acme/scim/v2/Groups/g-1",
        "/realms/acme/scim/v2/Nope",
        "/realms/acme/scim/v2/Nope/x",
    ];
    for path in paths {
        let resp = test::call_service(&app, test::TestRequest::get().uri(path).to_request()).await;
        let router = resp
            .headers()
            .get("x-pattern")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("-")
            .to_owned();
        assert_eq!(
            http::span::route_pattern(path).unwrap_or("-"),
            router,
            "{path}"
        );
    }
}
