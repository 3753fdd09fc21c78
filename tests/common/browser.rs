//! A real browser for integration tests: Debian's `chromium` driven by its
//! `chromedriver` over W3C WebDriver (the `fantoccini` client), headless,
//! with the WebDriver WebAuthn extension for a virtual authenticator.
//!
//! Use: `Browser::start("suite").await` starts chromedriver on a free port
//! and a fresh browser profile; `wait_for(css)` waits for an element (never a
//! fixed sleep); `screenshot(name)` writes `target/screenshots/<suite>/<name>.png`;
//! `add_virtual_authenticator()` gives the browser a platform authenticator
//! with resident keys and user verification (a passkey store). Call
//! `close().await` at the end; dropping a `Browser` kills chromedriver and
//! the browser it started (its own process group).
//!
//! `make tools` (scripts/ensure-tools.sh) installs the two Debian packages.
#![allow(dead_code)] // each test binary uses a different part

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::wd::{Capabilities, WebDriverCompatibleCommand};
use fantoccini::{elements::Element, Client, ClientBuilder, Locator};
use serde_json::{json, Value};

/// How long `wait_for` waits by default.
pub(crate) const WAIT: Duration = Duration::from_secs(30);

/// A headless Chromium session and the chromedriver behind it.
pub(crate) struct Browser {
    client: Client,
    driver: Child,
    suite: String,
}

fn program(names: &[&str]) -> String {
    for name in names {
        for dir in ["/usr/bin", "/usr/lib/chromium", "/usr/local/bin"] {
            let path = format!("{dir}/{name}");
            if std::path::Path::new(&path).exists() {
                return path;
            }
        }
    }
    panic!(
        "none of {names:?} is installed: run `make tools` (Debian packages chromium and chromium-driver)"
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The directory screenshots of `suite` go to.
pub(crate) fn screenshot_dir(suite: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"),
        PathBuf::from,
    );
    target.join("screenshots").join(suite)
}

impl Browser {
    /// Starts chromedriver and a headless Chromium session; screenshots go
    /// to `target/screenshots/<suite>/`.
    pub(crate) async fn start(suite: &str) -> Self {
        use std::os::unix::process::CommandExt as _;
        let driver_bin = program(&["chromedriver"]);
        let chromium = program(&["chromium", "chromium-browser"]);
        let port = free_port();
        let driver = Command::new(driver_bin)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = reqwest::get(&status)
                .await
                .ok()
                .map(|r| r.status().is_success());
            if ready == Some(true) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver not ready on {url} within 30 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = Capabilities::new();
        // Root in a container has no usable sandbox; /dev/shm may be small.
        let mut args = vec![
            "--headless=new",
            "--disable-dev-shm-usage",
            "--window-size=1280,900",
            "--no-first-run",
            "--disable-gpu",
        ];
        if nix_root() {
            args.push("--no-sandbox");
        }
        caps.insert(
            "goog:chromeOptions".to_owned(),
            json!({"binary": chromium, "args": args}),
        );
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&url)
            .await
            .expect("a Chromium session");
        // A run's screenshots only: none left from an earlier run.
        let _ = std::fs::remove_dir_all(screenshot_dir(suite));
        std::fs::create_dir_all(screenshot_dir(suite)).expect("screenshot directory");
        Self {
            client,
            driver,
            suite: suite.to_owned(),
        }
    }

    /// The WebDriver client.
    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// Opens `url`.
    pub(crate) async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigation");
    }

    /// The current URL.
    pub(crate) async fn url(&self) -> url::Url {
        self.client.current_url().await.expect("current URL")
    }

    /// Waits up to [`WAIT`] for an element matching `css`; on a timeout,
    /// saves a screenshot named after the selector and fails with the page.
    pub(crate) async fn wait_for(&self, css: &str) -> Element {
        self.wait_for_within(css, WAIT).await
    }

    /// As [`Browser::wait_for`] with its own timeout.
    pub(crate) async fn wait_for_within(&self, css: &str, within: Duration) -> Element {
        let found = self
            .client
            .wait()
            .at_most(within)
            .every(Duration::from_millis(100))
            .for_element(Locator::Css(css))
            .await;
        match found {
            Ok(e) => e,
            Err(e) => {
                self.screenshot(&format!("timeout-{}", sanitize(css))).await;
                let url = self.client.current_url().await.map(|u| u.to_string());
                let source = self.client.source().await.unwrap_or_default();
                panic!(
                    "no element {css:?} within {within:?} ({e}); at {url:?}; page:\n{}",
                    source.chars().take(4000).collect::<String>()
                );
            }
        }
    }

    /// Waits until the current URL satisfies `check`.
    pub(crate) async fn wait_for_url(
        &self,
        what: &str,
        check: impl Fn(&url::Url) -> bool,
    ) -> url::Url {
        let deadline = Instant::now() + WAIT;
        loop {
            let url = self.url().await;
            if check(&url) {
                return url;
            }
            if Instant::now() > deadline {
                self.screenshot(&format!("timeout-url-{}", sanitize(what)))
                    .await;
                panic!("URL never became {what}; last {url}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether `css` matches an element now.
    pub(crate) async fn has(&self, css: &str) -> bool {
        self.client.find(Locator::Css(css)).await.is_ok()
    }

    /// Clicks the element matching `css` (after waiting for it).
    pub(crate) async fn click(&self, css: &str) {
        self.wait_for(css).await.click().await.expect("click");
    }

    /// Types `text` into the input matching `css` (after waiting for it).
    pub(crate) async fn fill(&self, css: &str, text: &str) {
        let input = self.wait_for(css).await;
        input.clear().await.expect("input cleared");
        input.send_keys(text).await.expect("text typed");
    }

    /// Waits up to [`WAIT`] until no element matches `css` (the page moved
    /// on); `what` names the awaited page in the failure.
    pub(crate) async fn wait_for_gone(&self, css: &str, what: &str) {
        let deadline = Instant::now() + WAIT;
        while self.has(css).await {
            if Instant::now() > deadline {
                self.screenshot(&format!("timeout-gone-{}", sanitize(what)))
                    .await;
                panic!("{what}: {css:?} still shown at {}", self.url().await);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Saves a PNG screenshot as `target/screenshots/<suite>/<name>.png`.
    pub(crate) async fn screenshot(&self, name: &str) -> PathBuf {
        let path = screenshot_dir(&self.suite).join(format!("{name}.png"));
        if let Ok(png) = self.client.screenshot().await {
            let _ = std::fs::write(&path, png);
        }
        path
    }

    /// Runs `script` in the page.
    pub(crate) async fn execute(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .expect("script runs")
    }

    /// Deletes every cookie of the current site (a fresh visitor).
    pub(crate) async fn clear_cookies(&self) {
        self.client
            .delete_all_cookies()
            .await
            .expect("cookies deleted");
    }

    /// Adds a virtual authenticator (CTAP2, internal transport, resident
    /// keys, user verification that always succeeds): what a laptop with a
    /// fingerprint reader is to a site. Returns its id.
    pub(crate) async fn add_virtual_authenticator(&self) -> String {
        let answer = self
            .client
            .issue_cmd(WebAuthn::post(
                "webauthn/authenticator",
                json!({
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": true,
                    "hasUserVerification": true,
                    "isUserVerified": true,
                    "automaticPresenceSimulation": true,
                }),
            ))
            .await
            .expect("virtual authenticator added");
        answer
            .as_str()
            .or_else(|| answer.get("authenticatorId").and_then(Value::as_str))
            .expect("authenticator id")
            .to_owned()
    }

    /// From the next page load on, the browser reports passkey autofill
    /// (WebAuthn conditional mediation) as unavailable, as a browser without
    /// it does: Keycloak's pages then start no passkey request on load and
    /// wait for a button. (The virtual authenticator answers an autofill
    /// request at once, which would sign in before anything is typed.)
    pub(crate) async fn without_passkey_autofill(&self) {
        let source = "Object.defineProperty(window.PublicKeyCredential, \
            'isConditionalMediationAvailable', {value: async () => false});";
        self.client
            .issue_cmd(WebAuthn::post(
                "goog/cdp/execute",
                json!({
                    "cmd": "Page.addScriptToEvaluateOnNewDocument",
                    "params": {"source": source},
                }),
            ))
            .await
            .expect("autofill switched off");
    }

    /// The credentials the virtual authenticator holds.
    pub(crate) async fn authenticator_credentials(&self, authenticator: &str) -> Vec<Value> {
        let answer = self
            .client
            .issue_cmd(WebAuthn::get(&format!(
                "webauthn/authenticator/{authenticator}/credentials"
            )))
            .await
            .expect("credentials listed");
        answer.as_array().cloned().unwrap_or_default()
    }

    /// Ends the session and chromedriver.
    pub(crate) async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The browser runs in chromedriver's process group: end them all.
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn nix_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|v| v.split_whitespace().next() == Some("0"))
        })
        .unwrap_or(false)
}

fn sanitize(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

/// A command of the WebDriver WebAuthn extension
/// (`/session/{id}/webauthn/…`) or the `DevTools` bridge of chromedriver
/// (`/session/{id}/goog/cdp/execute`), which fantoccini has no method for.
#[derive(Debug)]
struct WebAuthn {
    method: http::Method,
    path: String,
    body: Option<Value>,
}

impl WebAuthn {
    fn post(path: &str, body: Value) -> Self {
        Self {
            method: http::Method::POST,
            path: path.to_owned(),
            body: Some(body),
        }
    }
    fn get(path: &str) -> Self {
        Self {
            method: http::Method::GET,
            path: path.to_owned(),
            body: None,
        }
    }
}

impl WebDriverCompatibleCommand for WebAuthn {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        let session = session_id.unwrap_or_default();
        base_url.join(&format!("session/{session}/{}", self.path))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        (
            self.method.clone(),
            self.body.as_ref().map(Value::to_string),
        )
    }
}
