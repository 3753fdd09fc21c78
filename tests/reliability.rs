//! Keycloak slow or stalled behind a delaying TCP proxy: `kc-scim serve`
//! (the binary, so its memory can be measured) must answer every request
//! within a bound — a success while Keycloak is slow but within
//! `keycloak.timeout_ms`, a SCIM 503 (or 429 once the realm's in-flight
//! budget is spent) with `Retry-After` once it is not —
//! never hang, keep its memory bounded, and recover as soon as Keycloak is
//! fast again. The realm cache is kept short so that it expires during the
//! stall and its reload is part of what must time out promptly.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{admin, fresh_realm, kc_env, kc_url, slow_proxy, ServeProcess};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

/// The sidecar's timeout for one Admin API call.
const KC_TIMEOUT: Duration = Duration::from_secs(1);
/// The most a request may take while Keycloak stalls: a few timed-out calls
/// plus scheduling slack on a small machine.
const ANSWER_BOUND: Duration = Duration::from_secs(6);
/// Requests in the burst, and how many are in flight at once.
const BURST: usize = 300;
const IN_FLIGHT: usize = 60;
/// How much the sidecar's RSS may grow across the burst.
const RSS_GROWTH_BOUND_KIB: u64 = 64 * 1024;

struct Client {
    http: reqwest::Client,
    base: String,
    token: String,
}

struct Outcome {
    status: u16,
    retry_after: Option<String>,
    content_type: Option<String>,
    body: Value,
    took: Duration,
}

impl Client {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Outcome {
        let started = Instant::now();
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(b.to_string());
        }
        // The client's own bound is far above ANSWER_BOUND: a hang shows as
        // a took-too-long failure, not as a client error.
        let response = req
            .timeout(Duration::from_secs(150))
            .send()
            .await
            .expect("the sidecar answers (no reset, no client timeout)");
        let status = response.status().as_u16();
        let header = |n: &str| {
            response
                .headers()
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let retry_after = header("retry-after");
        let content_type = header("content-type");
        let bytes = response.bytes().await.expect("body");
        Outcome {
            status,
            retry_after,
            content_type,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            took: started.elapsed(),
        }
    }
}

fn new_user(n: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": format!("slow_{n}_{}@example.com", uuid::Uuid::new_v4().simple()),
        "active": true,
        "name": {"givenName": "Slow", "familyName": format!("No{n}")}
    })
}

/// The burst: reads, creates and patches, `IN_FLIGHT` at a time.
async fn burst(client: &Arc<Client>, user_id: &str) -> Vec<(String, Outcome)> {
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let tasks: Vec<_> = (0..BURST)
        .map(|n| {
            let client = client.clone();
            let gate = gate.clone();
            let user_id = user_id.to_owned();
            tokio::spawn(async move {
                let _permit = gate.acquire().await.expect("semaphore");
                let (label, method, path, body) = match n % 3 {
                    0 => (
                        "GET user",
                        reqwest::Method::GET,
                        format!("/Users/{user_id}"),
                        None,
                    ),
                    1 => (
                        "POST user",
                        reqwest::Method::POST,
                        "/Users".to_owned(),
                        Some(new_user(n)),
                    ),
                    _ => (
                        "PATCH user",
                        reqwest::Method::PATCH,
                        format!("/Users/{user_id}"),
                        Some(json!({
                            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                            "Operations": [{"op": "replace", "path": "displayName", "value": format!("d{n}")}]
                        })),
                    ),
                };
                (label.to_owned(), client.send(method, &path, body).await)
            })
        })
        .collect();
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.expect("task"));
    }
    out
}

/// Why `o` is not a prompt SCIM 503 / 429 with `Retry-After`, if it is not.
fn unavailable_violation(o: &Outcome) -> Option<String> {
    let shown = || format!("{} after {:?}: {}", o.status, o.took, o.body);
    if o.status != 503 && o.status != 429 {
        return Some(format!("not a 503 or 429: {}", shown()));
    }
    if o.body["schemas"][0] != "urn:ietf:params:scim:api:messages:2.0:Error"
        || o.body["status"] != json!(o.status.to_string())
        || o.content_type.as_deref() != Some("application/scim+json")
    {
        return Some(format!("not a SCIM error: {}", shown()));
    }
    let secs: Option<u64> = o.retry_after.as_deref().and_then(|v| v.parse().ok());
    if secs.is_none_or(|s| s == 0) {
        return Some(format!("Retry-After {:?}: {}", o.retry_after, shown()));
    }
    if o.took > ANSWER_BOUND {
        return Some(format!("over the {ANSWER_BOUND:?} bound: {}", shown()));
    }
    None
}

/// Every outcome is a prompt 503 / 429; else a summary per request kind.
fn assert_all_unavailable(phase: &str, outcomes: &[(String, Outcome)], log: &dyn Fn() -> String) {
    let mut bad: Vec<String> = Vec::new();
    for (label, o) in outcomes {
        if let Some(why) = unavailable_violation(o) {
            bad.push(format!("{label}: {why}"));
        }
    }
    let slowest = outcomes
        .iter()
        .map(|(l, o)| (o.took, l.as_str()))
        .max()
        .map(|(t, l)| format!("{l} after {t:?}"))
        .unwrap_or_default();
    assert!(
        bad.is_empty(),
        "{phase}: {} of {} requests were not a prompt 503/429 with Retry-After \
         (slowest: {slowest}); first ones:\n{}\nlog tail:\n{}",
        bad.len(),
        outcomes.len(),
        bad.iter().take(12).cloned().collect::<Vec<_>>().join("\n"),
        log()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_keycloak_means_prompt_503s_bounded_memory_and_recovery() {
    let kc = admin();
    let realm = fresh_realm(&kc, "slow").await;
    let (_, token) = kc_scim::bootstrap::tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    let upstream = url::Url::parse(&kc_url()).expect("KC_TEST_URL");
    let (proxy_url, proxy) = slow_proxy::start(format!(
        "{}:{}",
        upstream.host_str().expect("host"),
        upstream.port_or_known_default().expect("port")
    ))
    .await;
    let mut env: Vec<(String, String)> = kc_env()
        .into_iter()
        .filter(|(k, _)| k != "KCSCIM_KEYCLOAK__URL")
        .collect();
    let timeout_ms = KC_TIMEOUT.as_millis().to_string();
    for (k, v) in [
        ("KCSCIM_KEYCLOAK__URL", proxy_url.as_str()),
        ("KCSCIM_REALMS", realm.as_str()),
        ("KCSCIM_KEYCLOAK__TIMEOUT_MS", timeout_ms.as_str()),
        ("KCSCIM_KEYCLOAK__CONNECT_TIMEOUT_MS", "1000"),
        ("KCSCIM_SCIM__CACHE_TTL_SECS", "1"),
        ("KCSCIM_HTTP__WORKERS", "2"),
        ("KCSCIM_LOG__LEVEL", "info"),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    let mut server = ServeProcess::start(&env);
    let client = Arc::new(Client {
        // A fresh connection per request: a pooled one the server closed
        // for idleness would fail as a client-side race, not a server fault.
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client"),
        base: format!("{}/realms/{realm}/scim/v2", server.address()),
        token,
    });
    let log_tail = || {
        let log = server.log();
        let lines: Vec<&str> = log.lines().rev().take(20).collect();
        lines.into_iter().rev().collect::<Vec<_>>().join("\n")
    };

    // Keycloak fast: a user to read and patch, and a warm process.
    let created = client
        .send(reqwest::Method::POST, "/Users", Some(new_user(0)))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let user_id = created.body["id"].as_str().expect("id").to_owned();
    for _ in 0..30 {
        let r = client
            .send(reqwest::Method::GET, &format!("/Users/{user_id}"), None)
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
    }

    // Slow but within the timeout: still served.
    proxy.delay(Duration::from_millis(150));
    let slow = client
        .send(reqwest::Method::GET, &format!("/Users/{user_id}"), None)
        .await;
    assert_eq!(
        slow.status, 200,
        "slow Keycloak within the timeout: {}",
        slow.body
    );
    assert!(slow.took >= Duration::from_millis(150), "the proxy delays");

    let rss_before = server.rss_kib();

    // Stalled: nothing passes. Every request is a prompt 503.
    proxy.hold();
    let started = Instant::now();
    let stalled = burst(&client, &user_id).await;
    let stalled_for = started.elapsed();
    assert_all_unavailable("Keycloak stalled", &stalled, &log_tail);

    // Slower than the timeout: the same.
    proxy.delay(KC_TIMEOUT * 3);
    let slowed = burst(&client, &user_id).await;
    assert_all_unavailable("Keycloak slower than the timeout", &slowed, &log_tail);

    let rss_after = server.rss_kib();
    eprintln!(
        "{} requests against a stalled Keycloak in {stalled_for:?}; RSS {rss_before} KiB -> {rss_after} KiB",
        stalled.len() + slowed.len()
    );
    assert!(
        rss_after <= rss_before + RSS_GROWTH_BOUND_KIB,
        "RSS grew from {rss_before} KiB to {rss_after} KiB across {} failed requests",
        stalled.len() + slowed.len()
    );
    assert!(server.running(), "kc-scim exited:\n{}", server.log());

    // Fast again: served again within seconds.
    proxy.pass();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = client
            .send(reqwest::Method::GET, &format!("/Users/{user_id}"), None)
            .await;
        if r.status == 200 {
            break;
        }
        assert!(matches!(r.status, 503 | 429), "{} {}", r.status, r.body);
        assert!(
            Instant::now() < deadline,
            "still {} 15 s after Keycloak recovered: {}",
            r.status,
            r.body
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let after = client
        .send(reqwest::Method::POST, "/Users", Some(new_user(BURST + 1)))
        .await;
    assert_eq!(after.status, 201, "create after recovery: {}", after.body);
    assert!(
        !server.log().contains("panicked"),
        "a panic in the log:\n{}",
        server.log()
    );
}
