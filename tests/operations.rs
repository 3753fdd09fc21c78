//! Running it like production: `/metrics` counters that move with traffic,
//! per-realm backpressure (429 with `Retry-After`), and the mass-deprovision
//! breaker (503, persisted in Keycloak, reset by the CLI).

mod common;

use common::{assert_scim_error, kc_env, kc_scim, spawn_app_with, TestApp};
use serde_json::json;

/// The value of the sample of `family` whose labels include all of `labels`.
fn sample(text: &str, family: &str, labels: &[&str]) -> u64 {
    text.lines()
        .filter(|l| l.starts_with(family) && !l.starts_with('#'))
        .filter(|l| labels.iter().all(|want| l.contains(want)))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

async fn metrics_text(address: &str) -> String {
    reqwest::get(format!("{address}/metrics"))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text")
}

fn user_body(n: &str) -> serde_json::Value {
    json!({"userName": format!("ops_{n}@contoso.com"), "active": true,
           "emails": [{"primary": true, "type": "work", "value": format!("ops_{n}@contoso.com")}]})
}

#[tokio::test]
async fn metrics_counters_move_with_traffic() {
    let app = common::spawn_app("metrics").await;
    let realm_label = format!("realm=\"{}\"", app.realm);
    let before = metrics_text(&app.address).await;
    for _ in 0..3 {
        assert_eq!(app.get("/Users").await.status, 200);
    }
    let bad = app.get("/Users?filter=userName%20eq").await;
    assert_eq!(bad.status, 400);
    let unauthorized = app
        .http
        .get(app.scim("/Users"))
        .bearer_auth("kcscim_wrong")
        .send()
        .await
        .expect("sent");
    assert_eq!(unauthorized.status().as_u16(), 401);
    let after = metrics_text(&app.address).await;

    let ok = |t: &str| {
        sample(
            t,
            "kcscim_http_requests_total",
            &[
                &realm_label,
                "resource=\"Users\"",
                "method=\"GET\"",
                "status=\"200\"",
            ],
        )
    };
    assert_eq!(ok(&after) - ok(&before), 3, "{after}");
    let invalid = |t: &str| {
        sample(
            t,
            "kcscim_scim_errors_total",
            &["scim_type=\"invalidFilter\""],
        )
    };
    assert!(invalid(&after) > invalid(&before), "{after}");
    let refused = |t: &str| sample(t, "kcscim_auth_failures_total", &[]);
    assert!(refused(&after) > refused(&before), "{after}");
    let kc_calls = |t: &str| sample(t, "kcscim_keycloak_request_duration_seconds_count", &[]);
    assert!(kc_calls(&after) >= kc_calls(&before) + 3, "{after}");
    assert!(after.contains("kcscim_admin_token_refreshes_total"));
    // Unknown realms never become label values.
    let _ = app
        .http
        .get(format!(
            "{}/realms/no-such-realm-x/scim/v2/Users",
            app.address
        ))
        .send()
        .await;
    assert!(!metrics_text(&app.address).await.contains("no-such-realm-x"));
}

#[tokio::test]
async fn a_realm_over_its_in_flight_limit_gets_429_with_retry_after() {
    let app = spawn_app_with(
        "busy",
        &[
            ("KCSCIM_SCIM__MAX_IN_FLIGHT_PER_REALM", "1"),
            ("KCSCIM_SCIM__QUEUE_WAIT_MS", "0"),
        ],
    )
    .await;
    assert_eq!(app.get("/Users").await.status, 200); // warm the realm cache
    let replies = futures::future::join_all((0..24).map(|_| app.get("/Users"))).await;
    let busy: Vec<_> = replies.iter().filter(|r| r.status == 429).collect();
    assert!(
        replies.iter().all(|r| r.status == 200 || r.status == 429),
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    assert!(!busy.is_empty(), "no request was refused at a limit of 1");
    assert!(replies.iter().any(|r| r.status == 200));
    for r in busy {
        assert_scim_error(r, 429, None);
        assert_eq!(r.header("retry-after"), Some("1"));
    }
    let text = metrics_text(&app.address).await;
    assert!(
        sample(
            &text,
            "kcscim_backpressure_rejections_total",
            &[&format!("realm=\"{}\"", app.realm)]
        ) >= 1,
        "{text}"
    );
}

/// A realm whose breaker trips past 3 disables or deletes, with `users`
/// users made through SCIM (their ids).
async fn breaker_app(prefix: &str, users: usize) -> (TestApp, Vec<String>) {
    let app = spawn_app_with(
        prefix,
        &[
            ("KCSCIM_DEPROVISION__MIN_EVENTS", "3"),
            ("KCSCIM_DEPROVISION__MAX_SHARE", "0.0"),
        ],
    )
    .await;
    let mut ids = Vec::new();
    for i in 0..users {
        let r = app.post("/Users", &user_body(&i.to_string())).await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["id"].as_str().expect("id").to_owned());
    }
    (app, ids)
}

/// A disable that does not happen counts nothing toward the breaker: one
/// kc-scim refuses as invalid, and one Keycloak refuses (the new userName is
/// taken); three of each, then the deletes the breaker allows still pass.
#[tokio::test]
async fn an_invalid_disable_counts_nothing_toward_the_breaker() {
    let (app, ids) = breaker_app("breaker-bad", 4).await;
    let disable_and_rename = |name: &str| {
        json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": false},
                           {"op": "Replace", "path": "userName", "value": name}]})
    };
    let invalid = disable_and_rename("service-account-x");
    let taken = disable_and_rename("ops_3@contoso.com");
    for _ in 0..3 {
        let r = app.patch(&format!("/Users/{}", ids[0]), &invalid).await;
        assert_scim_error(&r, 400, Some("invalidValue"));
        let r = app.patch(&format!("/Users/{}", ids[0]), &taken).await;
        assert_scim_error(&r, 409, Some("uniqueness"));
    }
    assert_eq!(app.kc_user(&ids[0]).await.enabled, Some(true));
    for id in &ids[..3] {
        let r = app.delete(&format!("/Users/{id}")).await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    assert_scim_error(&app.delete(&format!("/Users/{}", ids[3])).await, 503, None);
}

#[tokio::test]
async fn mass_deprovision_trips_the_breaker_until_an_admin_resets_it() {
    let (app, ids) = breaker_app("breaker", 6).await;
    for id in &ids[..3] {
        assert_eq!(app.delete(&format!("/Users/{id}")).await.status, 204);
    }
    let refused = app.delete(&format!("/Users/{}", ids[3])).await;
    assert_scim_error(&refused, 503, None);
    assert!(refused.header("retry-after").is_some());
    assert!(app
        .kc
        .get_user(&app.realm, &ids[3])
        .await
        .expect("admin")
        .is_some());
    // A disable is a deprovision too.
    let disable = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": false}]});
    assert_scim_error(
        &app.patch(&format!("/Users/{}", ids[4]), &disable).await,
        503,
        None,
    );
    assert_eq!(
        app.kc
            .get_user(&app.realm, &ids[4])
            .await
            .expect("admin")
            .expect("exists")
            .enabled,
        Some(true)
    );
    // Other writes still work.
    assert_eq!(app.post("/Users", &user_body("after")).await.status, 201);

    // The trip is stored in Keycloak, so the CLI (and every replica) sees it.
    let status = kc_scim(&["breaker", "status", "--realm", &app.realm], &kc_env());
    assert!(String::from_utf8_lossy(&status.stdout).starts_with("open since"));
    let reset = kc_scim(&["breaker", "reset", "--realm", &app.realm], &kc_env());
    assert!(
        reset.status.success(),
        "{}",
        String::from_utf8_lossy(&reset.stderr)
    );
    // Refused until the server's settings cache (2 s here) has read the reset.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let r = app.delete(&format!("/Users/{}", ids[3])).await;
        if r.status == 204 {
            break;
        }
        assert_scim_error(&r, 503, None);
        assert!(
            std::time::Instant::now() < deadline,
            "still refused after the reset"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let text = metrics_text(&app.address).await;
    let realm = format!("realm=\"{}\"", app.realm);
    assert_eq!(
        sample(&text, "kcscim_deprovision_breaker_trips_total", &[&realm]),
        1
    );
    assert!(
        sample(
            &text,
            "kcscim_deprovision_breaker_refusals_total",
            &[&realm]
        ) >= 2
    );
}

/// Two replicas on one realm, as behind the proxy: each counts the
/// disables and deletes it serves in its own window, and a trip is stored in
/// Keycloak, so the other replica refuses too once its settings cache
/// (`scim.cache_ttl_secs`, 2 s here) has expired.
#[tokio::test]
async fn two_replicas_count_their_own_window_but_share_the_trip() {
    let one = spawn_app_with(
        "replicas",
        &[
            ("KCSCIM_DEPROVISION__MIN_EVENTS", "3"),
            ("KCSCIM_DEPROVISION__MAX_SHARE", "0.0"),
        ],
    )
    .await;
    // Replica two's own window cannot trip in this test: a 503 from it is
    // the trip replica one stored.
    let settings = common::serving(
        &[&one.realm],
        &[
            ("KCSCIM_DEPROVISION__MIN_EVENTS", "100"),
            ("KCSCIM_DEPROVISION__MAX_SHARE", "0.0"),
        ],
    );
    let (address, directory) = common::start_server(&settings).await;
    let two = common::TestApp {
        address,
        directory,
        realm: one.realm.clone(),
        token: one.token.clone(),
        kc: common::admin(),
        http: reqwest::Client::new(),
    };
    let mut ids = Vec::new();
    for i in 0..24 {
        let r = one.post("/Users", &user_body(&format!("r{i}"))).await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["id"].as_str().expect("id").to_owned());
    }
    // Four deletes within the window, two through each replica: replica one
    // counted two of them, below its limit of 3.
    for (i, id) in ids[..4].iter().enumerate() {
        let replica = if i % 2 == 0 { &one } else { &two };
        let r = replica.delete(&format!("/Users/{id}")).await;
        assert_eq!(r.status, 204, "delete {i}: {}", r.body);
    }
    // Its third is within the limit, its fourth trips the breaker.
    assert_eq!(one.delete(&format!("/Users/{}", ids[4])).await.status, 204);
    assert_scim_error(&one.delete(&format!("/Users/{}", ids[5])).await, 503, None);
    // Replica two refuses as soon as its cache holds the stored trip.
    let mut refused = None;
    for id in &ids[6..] {
        let r = two.delete(&format!("/Users/{id}")).await;
        match r.status {
            503 => {
                // The breaker's answer, not an unavailable Keycloak's.
                assert_scim_error(&r, 503, None);
                assert_eq!(r.header("retry-after"), Some("3600"), "{}", r.body);
                refused = Some(id.clone());
                break;
            }
            204 => tokio::time::sleep(std::time::Duration::from_millis(250)).await,
            other => panic!("replica two answered {other}: {}", r.body),
        }
    }
    let refused = refused.expect("replica two never refused after the trip");
    for id in [&ids[5], &refused] {
        assert!(
            one.kc
                .get_user(&one.realm, id)
                .await
                .expect("admin")
                .is_some(),
            "a refused delete removed user {id}"
        );
    }
}
