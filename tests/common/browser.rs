#![allow(unreachable_pub)] // the harness is shared by several browser tests: its API is `pub`
//! A real browser for end-to-end tests: Debian's headless Chromium driven
//! over `WebDriver` (`chromedriver`, from `make tools`) with `fantoccini`.
//! Each test gets its own chromedriver on a free port and its own profile;
//! screenshots go to `target/screenshots/<test>/<n>-<step>.png`. Waits are
//! on elements (never fixed sleeps).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::Locator;

/// How long an element may take to appear.
const ELEMENT_WAIT: Duration = Duration::from_secs(30);
/// How long chromedriver may take to listen.
const DRIVER_START: Duration = Duration::from_secs(20);

/// The chromedriver process, ended when dropped (also when a test panics).
struct Driver {
    child: Child,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A headless Chromium session.
pub struct Browser {
    /// The `WebDriver` client.
    pub client: fantoccini::Client,
    test: String,
    shots: AtomicUsize,
    _driver: Driver,
}

fn first_existing(candidates: &[&str]) -> Option<String> {
    candidates
        .iter()
        .find(|p| std::path::Path::new(p).exists())
        .map(|p| (*p).to_owned())
}

fn chromedriver_binary() -> String {
    first_existing(&["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]).unwrap_or_else(
        || panic!("chromedriver is not installed: run `make tools` (Debian chromium-driver)"),
    )
}

fn chromium_binary() -> String {
    first_existing(&["/usr/bin/chromium", "/usr/lib/chromium/chromium"])
        .unwrap_or_else(|| panic!("chromium is not installed: run `make tools` (Debian chromium)"))
}

impl Browser {
    /// Starts chromedriver on a free port and a headless Chromium
    /// (`--no-sandbox`: tests run as root in CI) with a fresh profile.
    pub async fn start(test_name: &str) -> Browser {
        let port = super::free_port();
        let profile =
            std::env::temp_dir().join(format!("kcscim-chromium-{}", uuid::Uuid::new_v4().simple()));
        std::fs::create_dir_all(&profile).expect("profile dir");
        let child = Command::new(chromedriver_binary())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver = Driver { child, profile };
        let deadline = Instant::now() + DRIVER_START;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not listen on {port}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".to_owned(),
            serde_json::json!({
                "binary": chromium_binary(),
                "args": [
                    "--headless=new",
                    "--no-sandbox",
                    "--disable-dev-shm-usage",
                    "--disable-gpu",
                    "--window-size=1280,1100",
                    format!("--user-data-dir={}", driver.profile.display()),
                ],
            }),
        );
        let client = fantoccini::ClientBuilder::new(
            hyper_util::client::legacy::connect::HttpConnector::new(),
        )
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("a WebDriver session");
        Browser {
            client,
            test: test_name.to_owned(),
            shots: AtomicUsize::new(0),
            _driver: driver,
        }
    }

    /// Opens `url`.
    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// The element matching `css`, waiting for it to appear.
    pub async fn wait_for(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(ELEMENT_WAIT)
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(e) => {
                self.screenshot(&format!(
                    "missing-{}",
                    css.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
                ))
                .await;
                let source = self.client.source().await.unwrap_or_default();
                panic!("no element {css}: {e}\n{source}")
            }
        }
    }

    /// Saves a screenshot as `target/screenshots/<test>/<n>-<step>.png`.
    pub async fn screenshot(&self, step: &str) {
        let n = self.shots.fetch_add(1, Ordering::Relaxed) + 1;
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("screenshots")
            .join(&self.test);
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{n}-{step}.png")), png).expect("screenshot written");
    }

    /// Ends the session and chromedriver.
    pub async fn close(self) {
        let _ = self.client.clone().close().await;
    }
}
