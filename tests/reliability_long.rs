//! Keycloak killed (SIGKILL) under a create / patch load, then restarted on
//! the same database: once on Keycloak's H2 file database and once on a
//! PostgreSQL from Debian's packages (keycloak/pg-start.sh). Part of `make
//! reliability` (the `long-tests` feature): each test starts its own
//! Keycloak twice, which takes minutes.
//!
//! What must hold: every user whose create was answered 201 exists after the
//! restart, before any retry; the sidecar never panics and stays up; every request that
//! fails is a SCIM 503 (or 429) with `Retry-After`; writes succeed again
//! within seconds of Keycloak being ready; and after Entra-style retries of
//! the failed requests (a retried create answered 409 counts as created, and
//! the user is then looked up by userName) every intended user exists exactly
//! once with every attribute written.

mod common;

use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Reply, ServeProcess};
use kc_scim::config::Settings;
use kc_scim::keycloak::{KcAdmin, UserQuery};
use serde_json::{json, Value};

const CUSTOM: &str = "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
/// Load workers, each create-then-patch in a loop.
const WORKERS: usize = 8;
/// How soon after Keycloak is ready a write must succeed again.
const RECOVERY_BOUND: Duration = Duration::from_secs(20);
/// Bound on one request (the sidecar's own Keycloak timeout is 3 s).
const REQUEST_BOUND: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr")
        .port()
}

/// The database of a test's Keycloak.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Db {
    /// Keycloak's embedded H2, as a file in the test's temp dir.
    H2File,
    /// A PostgreSQL from Debian's packages (keycloak/pg-start.sh) with its
    /// data directory in the test's temp dir.
    Postgres,
}

/// A Keycloak of this test: dev mode, its database in a temp dir.
struct OwnKeycloak {
    port: u16,
    mgmt_port: u16,
    pg_port: u16,
    db: Db,
    dir: PathBuf,
}

impl OwnKeycloak {
    fn new(db: Db) -> Self {
        let dir =
            std::env::temp_dir().join(format!("kcscim-long-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(dir.join("run")).expect("temp dir");
        // KC_LONG_PORTS=<http>,<management>,<postgres> pins the ports (a
        // shared machine); else free ones.
        let pinned: Vec<u16> = std::env::var("KC_LONG_PORTS")
            .unwrap_or_default()
            .split(',')
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        let port = |i: usize| pinned.get(i).copied().unwrap_or_else(free_port);
        Self {
            port: port(0),
            mgmt_port: port(1),
            pg_port: port(2),
            db,
            dir,
        }
    }

    fn script(&self, name: &str) -> Command {
        let mut cmd = Command::new(format!("{}/keycloak/{name}", env!("CARGO_MANIFEST_DIR")));
        cmd.env("KC_PORT", self.port.to_string())
            .env("KC_MGMT_PORT", self.mgmt_port.to_string())
            .env("KC_RUN_DIR", self.dir.join("run"))
            .env("KC_ADMIN_USER", "admin")
            .env("KC_ADMIN_PASSWORD", "admin")
            .env("KC_START_TIMEOUT", "300");
        match self.db {
            Db::H2File => {
                // Written after every commit (WRITE_DELAY=0), so a SIGKILL
                // loses nothing Keycloak acknowledged.
                let db_url = format!(
                    "jdbc:h2:file:{}/h2/keycloakdb;NON_KEYWORDS=VALUE;WRITE_DELAY=0",
                    self.dir.display()
                );
                cmd.env("KC_DB", "dev-file").env("KC_DB_URL", db_url);
            }
            Db::Postgres => {
                cmd.env("KC_DB", "postgres")
                    .env("KC_PG_PORT", self.pg_port.to_string())
                    .env("KC_PG_DIR", self.dir.join("pg"));
            }
        }
        cmd
    }

    /// Starts it and waits for readiness (start.sh does).
    fn start(&self) {
        let out = self.script("start.sh").output().expect("start.sh runs");
        assert!(
            out.status.success(),
            "keycloak/start.sh failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("run/keycloak.log")).unwrap_or_default()
        );
    }

    fn pid(&self) -> i32 {
        std::fs::read_to_string(self.dir.join("run/pid"))
            .expect("pid file")
            .trim()
            .parse()
            .expect("pid")
    }

    /// SIGKILL to the whole process group (kc.sh and java), then waits until
    /// the port is closed.
    fn kill(&self) {
        let pid = self.pid();
        let status = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -KILL -{pid} failed");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
            assert!(
                Instant::now() < deadline,
                "Keycloak still listens after SIGKILL"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn env(&self) -> Vec<(String, String)> {
        vec![
            ("KCSCIM_KEYCLOAK__URL".to_owned(), self.url()),
            ("KCSCIM_KEYCLOAK__USERNAME".to_owned(), "admin".to_owned()),
            ("KCSCIM_KEYCLOAK__PASSWORD".to_owned(), "admin".to_owned()),
        ]
    }

    fn admin(&self) -> KcAdmin {
        let s = Settings::load_from(None, self.env()).expect("settings");
        kc_scim::startup::admin_client(&s).expect("client")
    }
}

impl Drop for OwnKeycloak {
    fn drop(&mut self) {
        let _ = self.script("stop.sh").output();
        if self.db == Db::Postgres {
            let _ = self.script("pg-stop.sh").output();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// What the load did to one intended user.
#[derive(Default, Clone)]
struct Intent {
    /// The id, once a create answered 201.
    id: Option<String>,
    /// Whether a PATCH answered 200.
    patched: bool,
}

struct Load {
    http: reqwest::Client,
    base: String,
    token: String,
    intents: Mutex<Vec<Intent>>,
    next: AtomicUsize,
    /// (when, status) of every request.
    log: Mutex<Vec<(Instant, u16)>>,
    /// Responses that were neither a success nor a proper 503 / 429.
    violations: Mutex<Vec<String>>,
    stop: AtomicBool,
}

fn user_name(n: usize) -> String {
    format!("Load_{n}@Example.com")
}

fn create_body(n: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name(n),
        "externalId": format!("ext-{n}"),
        "active": true,
        "name": {"givenName": format!("Given{n}"), "familyName": format!("Family{n}")},
        CUSTOM: {"tag": format!("tag-{n}")}
    })
}

fn patch_body(n: usize) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": format!("Display{n}")},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": format!("manager-{n}")}
        ]
    })
}

impl Load {
    async fn send(&self, method: reqwest::Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .timeout(REQUEST_BOUND);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(b.to_string());
        }
        let reply = match req.send().await {
            Ok(r) => common::into_reply(r).await,
            Err(e) => {
                self.violations
                    .lock()
                    .expect("lock")
                    .push(format!("{path}: no answer within {REQUEST_BOUND:?}: {e}"));
                Reply {
                    status: 0,
                    headers: reqwest::header::HeaderMap::new(),
                    body: Value::Null,
                }
            }
        };
        self.log
            .lock()
            .expect("lock")
            .push((Instant::now(), reply.status));
        reply
    }

    /// Records a reply that is neither `ok` nor a SCIM 503 / 429 with Retry-After.
    fn check(&self, what: &str, reply: &Reply, ok: &[u16]) -> bool {
        if ok.contains(&reply.status) {
            return true;
        }
        let retry_after = reply
            .header("retry-after")
            .and_then(|v| v.parse::<u64>().ok());
        let proper = matches!(reply.status, 503 | 429)
            && retry_after.is_some_and(|s| s > 0)
            && reply.body["status"] == json!(reply.status.to_string())
            && reply.header("content-type") == Some("application/scim+json");
        if !proper && reply.status != 0 {
            self.violations.lock().expect("lock").push(format!(
                "{what}: {} {:?} Retry-After {:?}",
                reply.status,
                reply.body,
                reply.header("retry-after")
            ));
        }
        false
    }

    async fn worker(self: Arc<Self>) {
        while !self.stop.load(Ordering::SeqCst) {
            let n = self.next.fetch_add(1, Ordering::SeqCst);
            self.set(n, |_| {});
            let reply = self
                .send(reqwest::Method::POST, "/Users", Some(&create_body(n)))
                .await;
            if !self.check(&format!("create {n}"), &reply, &[201]) {
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
            let id = reply.body["id"].as_str().unwrap_or_default().to_owned();
            self.set(n, |i| i.id = Some(id.clone()));
            let reply = self
                .send(
                    reqwest::Method::PATCH,
                    &format!("/Users/{id}"),
                    Some(&patch_body(n)),
                )
                .await;
            if self.check(&format!("patch {n}"), &reply, &[200]) {
                self.set(n, |i| i.patched = true);
            } else {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }

    fn set(&self, n: usize, f: impl FnOnce(&mut Intent)) {
        let mut intents = self.intents.lock().expect("lock");
        if intents.len() <= n {
            intents.resize(n + 1, Intent::default());
        }
        f(&mut intents[n]);
    }

    /// Entra's retry of one intended user, until created and patched.
    async fn retry(&self, n: usize, intent: Intent) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        let mut id = intent.id;
        while id.is_none() {
            if Instant::now() > deadline {
                return Err(format!("user {n} not created after 60 s of retries"));
            }
            let reply = self
                .send(reqwest::Method::POST, "/Users", Some(&create_body(n)))
                .await;
            match reply.status {
                201 => id = reply.body["id"].as_str().map(str::to_owned),
                409 => {
                    let f = format!("userName eq \"{}\"", user_name(n));
                    let q: String = url::form_urlencoded::byte_serialize(f.as_bytes()).collect();
                    let found = self
                        .send(reqwest::Method::GET, &format!("/Users?filter={q}"), None)
                        .await;
                    if found.status == 200 {
                        if found.body["totalResults"] != 1 {
                            return Err(format!("user {n}: 409, then lookup found {}", found.body));
                        }
                        id = found.body["Resources"][0]["id"].as_str().map(str::to_owned);
                    }
                }
                _ => {
                    self.check(&format!("retried create {n}"), &reply, &[]);
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        }
        let id = id.unwrap_or_default();
        if !intent.patched {
            loop {
                if Instant::now() > deadline {
                    return Err(format!("user {n} not patched after 60 s of retries"));
                }
                let reply = self
                    .send(
                        reqwest::Method::PATCH,
                        &format!("/Users/{id}"),
                        Some(&patch_body(n)),
                    )
                    .await;
                if self.check(&format!("retried patch {n}"), &reply, &[200]) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_killed_under_load_then_restarted_loses_and_duplicates_nothing() {
    killed_under_load(Db::H2File).await;
}

/// The same on PostgreSQL, the database production runs on: a SIGKILL of
/// Keycloak must lose no user whose create was answered 201.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_on_postgresql_killed_under_load_loses_no_acknowledged_create() {
    killed_under_load(Db::Postgres).await;
}

async fn killed_under_load(db: Db) {
    let kc_proc = Arc::new(OwnKeycloak::new(db));
    {
        let kc_proc = kc_proc.clone();
        tokio::task::spawn_blocking(move || kc_proc.start())
            .await
            .expect("start");
    }
    let kc = kc_proc.admin();
    let realm = common::unique("killed");
    kc_scim::bootstrap::run(
        &kc,
        &kc_scim::bootstrap::BootstrapOptions {
            realm: realm.clone(),
            template: Some("passwordless".to_owned()),
            ..kc_scim::bootstrap::BootstrapOptions::default()
        },
    )
    .await
    .expect("bootstrap");
    let (_, token) = kc_scim::bootstrap::tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    let mut env = kc_proc.env();
    for (k, v) in [
        ("KCSCIM_KEYCLOAK__TIMEOUT_MS", "3000"),
        ("KCSCIM_KEYCLOAK__CONNECT_TIMEOUT_MS", "500"),
        ("KCSCIM_HTTP__WORKERS", "2"),
        ("KCSCIM_LOG__LEVEL", "info"),
    ] {
        env.push((k.to_owned(), v.to_owned()));
    }
    let mut server = ServeProcess::start(&env);
    let load = Arc::new(Load {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(0)
            .build()
            .expect("client"),
        base: format!("{}/realms/{realm}/scim/v2", server.address()),
        token,
        intents: Mutex::new(Vec::new()),
        next: AtomicUsize::new(0),
        log: Mutex::new(Vec::new()),
        violations: Mutex::new(Vec::new()),
        stop: AtomicBool::new(false),
    });
    let workers: Vec<_> = (0..WORKERS)
        .map(|_| tokio::spawn(load.clone().worker()))
        .collect();

    // Load with Keycloak up, then SIGKILL in the middle of it.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let killed_at = Instant::now();
    {
        let kc_proc = kc_proc.clone();
        tokio::task::spawn_blocking(move || kc_proc.kill())
            .await
            .expect("kill");
    }
    // Down for a while under load, then restarted on the same database.
    tokio::time::sleep(Duration::from_secs(5)).await;
    {
        let kc_proc = kc_proc.clone();
        tokio::task::spawn_blocking(move || kc_proc.start())
            .await
            .expect("restart");
    }
    let ready_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(10)).await;
    load.stop.store(true, Ordering::SeqCst);
    for w in workers {
        tokio::time::timeout(REQUEST_BOUND * 3, w)
            .await
            .expect("a worker stops within its bound")
            .expect("worker");
    }

    let log = load.log.lock().expect("lock").clone();
    let failed_while_down = log
        .iter()
        .filter(|(at, s)| *at > killed_at && *at < ready_at && !matches!(s, 200 | 201))
        .count();
    assert!(failed_while_down > 0, "the load saw Keycloak down");
    let first_success = log
        .iter()
        .filter(|(at, s)| *at >= ready_at && matches!(s, 200 | 201))
        .map(|(at, _)| *at)
        .min()
        .expect("a success after Keycloak was ready");
    assert!(
        first_success - ready_at <= RECOVERY_BOUND,
        "first success {:?} after Keycloak was ready",
        first_success - ready_at
    );

    // Before any retry: every create answered 201 survived the SIGKILL.
    let intents = load.intents.lock().expect("lock").clone();
    let kc = kc_proc.admin();
    let mut acknowledged = 0;
    let mut lost = Vec::new();
    for (n, intent) in intents.iter().enumerate() {
        let Some(id) = &intent.id else { continue };
        acknowledged += 1;
        match kc.get_user(&realm, id).await {
            Ok(Some(_)) => {}
            Ok(None) => lost.push(format!("{} ({id})", user_name(n))),
            Err(e) => lost.push(format!("{} ({id}): {e}", user_name(n))),
        }
    }
    eprintln!(
        "{db:?}: {acknowledged} creates answered 201, {} of them gone after the restart",
        lost.len()
    );
    assert!(
        lost.is_empty(),
        "{db:?}: {} of {acknowledged} users answered 201 are gone after the restart: {}",
        lost.len(),
        lost.join(", ")
    );

    // Entra's retries of everything that failed.
    let mut retry_errors = Vec::new();
    for (n, intent) in intents.iter().enumerate() {
        if intent.id.is_none() || !intent.patched {
            if let Err(e) = load.retry(n, intent.clone()).await {
                retry_errors.push(e);
            }
        }
    }
    let violations = load.violations.lock().expect("lock").clone();
    assert!(
        violations.is_empty(),
        "{} responses were neither a success nor a SCIM 503/429 with Retry-After:\n{}",
        violations.len(),
        violations
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(retry_errors.is_empty(), "{}", retry_errors.join("\n"));

    // Keycloak holds each intended user exactly once, with every attribute.
    let kc = kc_proc.admin();
    let mut problems = Vec::new();
    for n in 0..intents.len() {
        let found = kc
            .find_users(
                &realm,
                &UserQuery {
                    username: Some(user_name(n).to_lowercase()),
                    max: 10,
                    ..UserQuery::default()
                },
            )
            .await
            .expect("lookup");
        if found.len() != 1 {
            problems.push(format!("{}: {} users", user_name(n), found.len()));
            continue;
        }
        let u = &found[0];
        let seen = json!([
            u.first_name,
            u.last_name,
            u.attribute("externalId"),
            u.attribute("extensionAttribute1"),
            u.attribute("displayName"),
            u.attribute("manager"),
            u.attribute("userPrincipalName")
        ]);
        let want = json!([
            format!("Given{n}"),
            format!("Family{n}"),
            format!("ext-{n}"),
            format!("tag-{n}"),
            format!("Display{n}"),
            format!("manager-{n}"),
            user_name(n)
        ]);
        if seen != want {
            problems.push(format!("{}: {seen} instead of {want}", user_name(n)));
        }
    }
    let total = kc
        .count_users(&realm, &UserQuery::default())
        .await
        .expect("count");
    eprintln!(
        "{} intended users, {} requests ({failed_while_down} failed while Keycloak was down), \
         first success {:?} after ready, {total} users in Keycloak",
        intents.len(),
        log.len(),
        first_success - ready_at
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(total, intents.len(), "no user beyond the intended ones");
    assert!(server.running(), "kc-scim exited:\n{}", server.log());
    assert!(
        !server.log().contains("panicked"),
        "a panic in the log:\n{}",
        server.log()
    );
}
