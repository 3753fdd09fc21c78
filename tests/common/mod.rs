//! Shared helpers of the integration tests. They run against the real
//! Keycloak that `make test` starts (`KC_TEST_URL`); every test makes its own
//! realm, so tests never see each other's data.
#![allow(dead_code)] // each test binary uses a different part

pub(crate) mod admin_realm;
pub(crate) mod browser;
pub(crate) mod memory;
pub(crate) mod passkey;
pub(crate) mod smtp;

use kc_scim::bootstrap::{self, BootstrapOptions};
use kc_scim::config::Settings;
use kc_scim::keycloak::{KcAdmin, KcClient, KcUser};

/// Base URL of the test Keycloak.
pub(crate) fn kc_url() -> String {
    std::env::var("KC_TEST_URL").unwrap_or_else(|_| {
        panic!(
            "KC_TEST_URL is not set: these tests need a real Keycloak; \
             run them with `make test`, which starts one"
        )
    })
}

/// Environment for a kc-scim process (or `Settings::load_from`) pointing at
/// the test Keycloak with its bootstrap admin.
pub(crate) fn kc_env() -> Vec<(String, String)> {
    let user = std::env::var("KC_TEST_ADMIN_USER").unwrap_or_else(|_| "admin".to_owned());
    let password = std::env::var("KC_TEST_ADMIN_PASSWORD").unwrap_or_else(|_| "admin".to_owned());
    vec![
        ("KCSCIM_KEYCLOAK__URL".to_owned(), kc_url()),
        ("KCSCIM_KEYCLOAK__USERNAME".to_owned(), user),
        ("KCSCIM_KEYCLOAK__PASSWORD".to_owned(), password),
    ]
}

/// Settings for the test Keycloak.
pub(crate) fn settings() -> Settings {
    Settings::load_from(None, kc_env()).expect("test settings load")
}

/// A fresh admin client (its own call counters).
pub(crate) fn admin() -> KcAdmin {
    let s = settings();
    kc_scim::startup::admin_client(&s).expect("client")
}

/// A confidential `openid-connect` client with a service account and no
/// browser flow, as `create_client` takes it.
pub(crate) fn service_account_client(client_id: &str) -> KcClient {
    KcClient {
        client_id: client_id.to_owned(),
        enabled: Some(true),
        protocol: Some("openid-connect".to_owned()),
        public_client: Some(false),
        service_accounts_enabled: Some(true),
        standard_flow_enabled: Some(false),
        ..KcClient::default()
    }
}

/// Log output kept in memory: a `MakeWriter` for a JSON subscriber.
#[derive(Clone, Default)]
pub(crate) struct Lines(pub std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Lines {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Lines {
    type Writer = Lines;
    fn make_writer(&'w self) -> Self::Writer {
        self.clone()
    }
}

impl Lines {
    /// Every JSON line written so far.
    pub(crate) fn json(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().expect("lock").clone();
        String::from_utf8_lossy(&bytes)
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Everything written so far, as text.
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("lock")).into_owned()
    }
}

/// A port nothing listens on right now.
pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A realm name no other test uses.
pub(crate) fn unique(prefix: &str) -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("{prefix}-{}", &id[..10])
}

/// Creates a realm from the passwordless template and bootstraps it.
pub(crate) async fn fresh_realm(kc: &KcAdmin, prefix: &str) -> String {
    let realm = unique(prefix);
    let opts = BootstrapOptions {
        realm: realm.clone(),
        template: Some("passwordless".to_owned()),
        ..BootstrapOptions::default()
    };
    bootstrap::run(kc, &opts)
        .await
        .expect("bootstrap of a fresh realm");
    realm
}

/// Runs the kc-scim binary with exactly `env` as its KCSCIM_* environment.
pub(crate) fn kc_scim(args: &[&str], env: &[(String, String)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kc-scim"));
    for (key, _) in std::env::vars() {
        if key.starts_with("KCSCIM_") || key == "RUST_LOG" {
            cmd.env_remove(key);
        }
    }
    cmd.args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .expect("kc-scim runs")
}

/// A running kc-scim on a random port, serving one fresh realm.
pub(crate) struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// The realm served.
    pub realm: String,
    /// A static token of the realm.
    pub token: String,
    /// The Keycloak directory of the server (its call counters).
    pub directory: std::sync::Arc<kc_scim::directory::KcDirectory>,
    /// An admin client of the test (separate counters).
    pub kc: KcAdmin,
    /// An HTTP client.
    pub http: reqwest::Client,
}

/// Settings of a test server: the test Keycloak, port 0, a short cache.
pub(crate) fn app_settings(extra: &[(&str, &str)]) -> Settings {
    let mut env = kc_env();
    env.push(("KCSCIM_HTTP__BIND".to_owned(), "127.0.0.1:0".to_owned()));
    env.push(("KCSCIM_SCIM__CACHE_TTL_SECS".to_owned(), "2".to_owned()));
    for (k, v) in extra {
        env.push(((*k).to_owned(), (*v).to_owned()));
    }
    Settings::load_from(None, env).expect("settings")
}

/// Settings of a test server that serves exactly `realms` (already set up):
/// without the list, start-up would read every realm of the shared test
/// Keycloak (one Admin API call each) to find the served ones.
pub(crate) fn serving(realms: &[&str], extra: &[(&str, &str)]) -> Settings {
    let list = realms.join(",");
    let mut all: Vec<(&str, &str)> = vec![("KCSCIM_REALMS", list.as_str())];
    all.extend_from_slice(extra);
    app_settings(&all)
}

/// Starts kc-scim with `settings` in this test's runtime; returns its address
/// and directory.
pub(crate) async fn start_server(
    settings: &Settings,
) -> (String, std::sync::Arc<kc_scim::directory::KcDirectory>) {
    let app = kc_scim::startup::Application::build(settings)
        .await
        .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let directory = app.directory();
    tokio::spawn(app.run_until_stopped());
    (address, directory)
}

/// A fresh realm, a token for it, and a server.
pub(crate) async fn spawn_app(prefix: &str) -> TestApp {
    spawn_app_with(prefix, &[]).await
}

/// As [`spawn_app`], with extra `KCSCIM_*` settings for the server.
pub(crate) async fn spawn_app_with(prefix: &str, extra: &[(&str, &str)]) -> TestApp {
    let kc = admin();
    let realm = fresh_realm(&kc, prefix).await;
    let (_, token) = kc_scim::bootstrap::tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    let (address, directory) = start_server(&serving(&[&realm], extra)).await;
    TestApp {
        address,
        realm,
        token,
        directory,
        kc,
        http: reqwest::Client::new(),
    }
}

/// A response: status, headers, JSON body (`Null` when empty or not JSON).
pub(crate) struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: serde_json::Value,
}

impl Reply {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    /// The id (uuid) of the realm's `scim-endpoint` client.
    pub(crate) async fn scim_client(&self) -> String {
        self.kc
            .find_client(&self.realm, kc_scim::mapping::SCIM_CLIENT_ID)
            .await
            .expect("client lookup")
            .and_then(|c| c.id)
            .expect("scim-endpoint exists")
    }

    /// The id of the service-account user of client `client` (its uuid).
    pub(crate) async fn service_account_of(&self, client: &str) -> String {
        let user = self
            .kc
            .get_realm_value(
                &self.realm,
                &["clients", client, "service-account-user"],
                &[],
            )
            .await
            .expect("service account");
        user["id"].as_str().expect("id").to_owned()
    }

    /// The Keycloak user `id` of the app's realm, read through the Admin API.
    pub(crate) async fn kc_user(&self, id: &str) -> KcUser {
        self.kc
            .get_user(&self.realm, id)
            .await
            .expect("admin GET")
            .expect("user exists in Keycloak")
    }

    /// Keycloak's example access token of the `scim-endpoint` client for
    /// user `id` (scope `openid`): the claims a relying party receives.
    pub(crate) async fn example_token(&self, id: &str) -> serde_json::Value {
        let client = self
            .kc
            .find_client(&self.realm, kc_scim::mapping::SCIM_CLIENT_ID)
            .await
            .expect("lookup")
            .and_then(|c| c.id)
            .expect("scim-endpoint client");
        self.kc
            .get_realm_value(
                &self.realm,
                &[
                    "clients",
                    &client,
                    "evaluate-scopes",
                    "generate-example-access-token",
                ],
                &[("userId", id.to_owned()), ("scope", "openid".to_owned())],
            )
            .await
            .expect("example token")
    }

    /// The realm's SCIM base URL.
    pub(crate) fn scim(&self, path: &str) -> String {
        format!("{}/realms/{}/scim/v2{path}", self.address, self.realm)
    }

    /// Sends a request with the realm's token.
    pub(crate) async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&serde_json::Value>,
    ) -> Reply {
        let mut req = self
            .http
            .request(method, self.scim(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/scim+json")
                .body(b.to_string());
        }
        into_reply(req.send().await.expect("request sent")).await
    }

    pub(crate) async fn get(&self, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, None).await
    }
    pub(crate) async fn post(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }
    pub(crate) async fn put(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }
    pub(crate) async fn patch(&self, path: &str, body: &serde_json::Value) -> Reply {
        self.send(reqwest::Method::PATCH, path, Some(body)).await
    }
    pub(crate) async fn delete(&self, path: &str) -> Reply {
        self.send(reqwest::Method::DELETE, path, None).await
    }

    /// Admin API calls the server made so far.
    pub(crate) fn kc_calls(&self) -> u64 {
        self.directory.admin().stats().calls()
    }

    /// The most Admin API calls on the wire at once since the last call.
    pub(crate) fn kc_peak_in_flight(&self) -> u64 {
        self.directory.admin().stats().take_peak_in_flight()
    }
}

/// Reads a reqwest response into a [`Reply`].
pub(crate) async fn into_reply(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.expect("body");
    let body = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    Reply {
        status,
        headers,
        body,
    }
}

/// Asserts a SCIM error: status (as a string in the body too) and scimType.
pub(crate) fn assert_scim_error(reply: &Reply, status: u16, scim_type: Option<&str>) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(
        reply.body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{}",
        reply.body
    );
    assert_eq!(reply.body["status"], status.to_string(), "{}", reply.body);
    if let Some(t) = scim_type {
        assert_eq!(reply.body["scimType"], t, "{}", reply.body);
    }
    assert_eq!(
        reply.header("content-type"),
        Some("application/scim+json"),
        "content type of an error"
    );
}

/// `kc-scim serve` as a child process on an OS-chosen port, with its JSON log
/// collected; killed when dropped.
pub(crate) struct ServeProcess {
    pub child: std::process::Child,
    pub port: u16,
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ServeProcess {
    /// Starts the binary with exactly `env` as its KCSCIM_* environment (plus
    /// port 0 and JSON logs) and reads the port from its start-up log line.
    pub(crate) fn start(env: &[(String, String)]) -> Self {
        use std::io::BufRead as _;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kc-scim"));
        for (key, _) in std::env::vars() {
            if key.starts_with("KCSCIM_") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .arg("serve")
            .env("KCSCIM_HTTP__BIND", "127.0.0.1:0")
            .env("KCSCIM_LOG__FORMAT", "json")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("kc-scim serve starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (port_tx, port_rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Ok(event) = serde_json::from_str::<serde_json::Value>(&line) {
                    let port = event
                        .get("port")
                        .or_else(|| event.pointer("/fields/port"))
                        .and_then(serde_json::Value::as_u64);
                    if let Some(port) = port {
                        let _ = port_tx.send(port);
                    }
                }
                sink.lock().expect("log lock").push(line);
            }
        });
        let Ok(port) = port_rx.recv_timeout(std::time::Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!(
                "kc-scim serve logged no port within 60 s:\n{}",
                log.lock().expect("log lock").join("\n")
            );
        };
        let port = u16::try_from(port).expect("a port");
        Self { child, port, log }
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn address(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The collected log.
    pub(crate) fn log(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }

    /// Resident set size in KiB, from /proc (Linux).
    pub(crate) fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc/<pid>/status readable");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS in /proc/<pid>/status")
    }

    /// Whether the process is still running.
    pub(crate) fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for ServeProcess {
    fn drop(&mut self) {
        if self.running() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A TCP proxy on 127.0.0.1 in front of `upstream` (`host:port`) that can
/// slow or stall the traffic, both directions, chunk by chunk — also on
/// connections opened before the change.
pub(crate) mod slow_proxy {
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::Arc;
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    /// The mode value that holds every chunk (nothing passes either way).
    pub(crate) const HOLD: u64 = u64::MAX;
    /// Bound on how long a chunk is held before the connection is dropped.
    const MAX_HOLD: Duration = Duration::from_secs(120);

    /// The proxy's control: 0 = pass, [`HOLD`] = stall, else a delay in ms
    /// before each chunk is forwarded.
    #[derive(Clone)]
    pub(crate) struct Control(Arc<AtomicU64>);

    impl Control {
        pub(crate) fn pass(&self) {
            self.0.store(0, Ordering::SeqCst);
        }
        pub(crate) fn delay(&self, per_chunk: Duration) {
            let ms = u64::try_from(per_chunk.as_millis()).unwrap_or(HOLD - 1);
            self.0.store(ms.min(HOLD - 1), Ordering::SeqCst);
        }
        pub(crate) fn hold(&self) {
            self.0.store(HOLD, Ordering::SeqCst);
        }
        fn get(&self) -> u64 {
            self.0.load(Ordering::SeqCst)
        }
    }

    /// Starts the proxy; returns its `http://` base URL and its control.
    pub(crate) async fn start(upstream: String) -> (String, Control) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy binds");
        let address = format!("http://{}", listener.local_addr().expect("address"));
        let control = Control(Arc::new(AtomicU64::new(0)));
        let ctl = control.clone();
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let ctl = ctl.clone();
                tokio::spawn(async move {
                    let Ok(outbound) = TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let _ = inbound.set_nodelay(true);
                    let _ = outbound.set_nodelay(true);
                    let (ri, wi) = inbound.into_split();
                    let (ro, wo) = outbound.into_split();
                    tokio::select! {
                        () = pump(ri, wo, ctl.clone()) => {}
                        () = pump(ro, wi, ctl) => {}
                    }
                });
            }
        });
        (address, control)
    }

    /// Copies chunks from `from` to `to`, delaying each as the mode says; a
    /// held chunk is dropped with the connection once the hold ends.
    async fn pump<R, W>(mut from: R, mut to: W, ctl: Control)
    where
        R: AsyncReadExt + Unpin,
        W: AsyncWriteExt + Unpin,
    {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            match ctl.get() {
                0 => {}
                HOLD => {
                    let held = tokio::time::Instant::now();
                    while ctl.get() == HOLD && held.elapsed() < MAX_HOLD {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    return;
                }
                ms => tokio::time::sleep(Duration::from_millis(ms)).await,
            }
            if to.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
    }
}

/// An access token of the test Keycloak's bootstrap admin (master realm).
pub(crate) async fn master_admin_token(kc: &KcAdmin) -> String {
    let user = std::env::var("KC_TEST_ADMIN_USER").unwrap_or_else(|_| "admin".to_owned());
    let password = std::env::var("KC_TEST_ADMIN_PASSWORD").unwrap_or_else(|_| "admin".to_owned());
    let token = kc
        .password_token(
            "master",
            &[
                ("client_id", "admin-cli"),
                ("username", &user),
                ("password", &password),
            ],
        )
        .await
        .expect("admin token");
    token["access_token"]
        .as_str()
        .expect("access token")
        .to_owned()
}

/// Grants `realm-management`'s `realm-admin` role to a user or group of the
/// app's realm (`kind` is `users` or `groups`) through the Admin API.
pub(crate) async fn grant_realm_admin(app: &TestApp, kind: &str, id: &str) {
    grant_role(
        &app.kc,
        &app.realm,
        kind,
        id,
        Some("realm-management"),
        "realm-admin",
    )
    .await;
}

/// Grants role `role` to a user or group (`kind` is `users` or `groups`)
/// through the Admin API: a realm role without `client`, else a role of
/// the client with that `clientId`.
pub(crate) async fn grant_role(
    kc: &KcAdmin,
    realm: &str,
    kind: &str,
    id: &str,
    client: Option<&str>,
    role: &str,
) {
    let client_uuid = match client {
        Some(client_id) => Some(
            kc.find_client(realm, client_id)
                .await
                .expect("lookup")
                .and_then(|c| c.id)
                .expect("client exists"),
        ),
        None => None,
    };
    let (role_path, mapping) = match &client_uuid {
        Some(uuid) => (
            vec!["clients", uuid.as_str(), "roles", role],
            format!("clients/{uuid}"),
        ),
        None => (vec!["roles", role], "realm".to_owned()),
    };
    let representation = kc
        .get_realm_value(realm, &role_path, &[])
        .await
        .expect("role");
    let status = reqwest::Client::new()
        .post(format!(
            "{}/admin/realms/{realm}/{kind}/{id}/role-mappings/{mapping}",
            kc_url()
        ))
        .bearer_auth(master_admin_token(kc).await)
        .json(&serde_json::json!([representation]))
        .send()
        .await
        .expect("grant")
        .status();
    assert!(status.is_success(), "{status}");
}

/// Polls `check` until it holds or `within` passes.
pub(crate) async fn eventually<F, Fut>(within: std::time::Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = std::time::Instant::now() + within;
    loop {
        if check().await {
            return true;
        }
        if std::time::Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}
