//! Graceful shutdown of `kc-scim serve` (the binary, as a container runtime
//! runs it): SIGTERM while requests are in flight must answer every one of
//! them with a SCIM response, then exit 0, so a rolling restart behind the
//! proxy loses no provisioning call.
//!
//! The requests are made in flight deterministically: each connection sends
//! its headers and half of its body before the signal, the other half after
//! it, so the server has accepted every request but can finish none before
//! SIGTERM arrives.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use common::{admin, fresh_realm, kc_env};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Requests in flight when SIGTERM arrives.
const IN_FLIGHT: usize = 24;

/// `kc-scim serve` as a child process, with its log collected.
struct Server {
    child: Child,
    port: u16,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts the binary on an OS-chosen port and reads the port from its
    /// JSON start-up log line.
    fn start(realm: &str) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_kc-scim"));
        for (key, _) in std::env::vars() {
            if key.starts_with("KCSCIM_") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .arg("serve")
            .envs(kc_env())
            .env("KCSCIM_HTTP__BIND", "127.0.0.1:0")
            .env("KCSCIM_HTTP__WORKERS", "2")
            .env("KCSCIM_REALMS", realm)
            .env("KCSCIM_LOG__FORMAT", "json")
            .env("KCSCIM_LOG__LEVEL", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("kc-scim serve starts");
        let stderr = child.stderr.take().expect("stderr piped");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(event) = serde_json::from_str::<Value>(&line) {
                    let port = event
                        .get("port")
                        .or_else(|| event.pointer("/fields/port"))
                        .and_then(Value::as_u64);
                    if let Some(port) = port {
                        let _ = port_tx.send(port);
                    }
                }
                sink.lock().expect("log lock").push(line);
            }
        });
        let Ok(port) = port_rx.recv_timeout(Duration::from_secs(60)) else {
            let _ = child.kill();
            panic!(
                "kc-scim serve logged no port within 60 s:\n{}",
                log.lock().expect("log lock").join("\n")
            );
        };
        let port = u16::try_from(port).expect("a port");
        Self { child, port, log }
    }

    fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM failed");
    }

    fn wait_exit(&mut self, within: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + within;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().expect("child status") {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    fn log(&self) -> String {
        self.log.lock().expect("log lock").join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A POST /Users split in two: everything up to the middle of the body, and the rest.
fn split_create(realm: &str, token: &str, n: usize) -> (Vec<u8>, Vec<u8>, String) {
    let user_name = format!("drain_{n}_{}@example.com", uuid::Uuid::new_v4().simple());
    let body = json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "active": true,
        "name": {"givenName": "Drain", "familyName": format!("No{n}")}
    })
    .to_string();
    let head = format!(
        "POST /realms/{realm}/scim/v2/Users HTTP/1.1\r\nHost: 127.0.0.1\r\n\
         Authorization: Bearer {token}\r\nContent-Type: application/scim+json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let (first, second) = body.as_bytes().split_at(body.len() / 2);
    let mut part1 = head.into_bytes();
    part1.extend_from_slice(first);
    (part1, second.to_vec(), user_name)
}

/// Status code and JSON body of a raw HTTP/1.1 response read to EOF.
fn parse_response(raw: &[u8]) -> (u16, String, Value) {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let content_type = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-type")
                .then(|| v.trim().to_owned())
        })
        .unwrap_or_default();
    (
        status,
        content_type,
        serde_json::from_str(body).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn sigterm_drains_in_flight_requests_and_exits_zero() {
    let kc = admin();
    let realm = fresh_realm(&kc, "drain").await;
    let (_, token) = kc_scim::bootstrap::tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    let mut server = Server::start(&realm);
    let address = format!("127.0.0.1:{}", server.port);

    // Warm up: the realm's settings and mapper table are loaded, the admin
    // token is fetched, so the drained requests do only their own work.
    let warm = reqwest::Client::new()
        .get(format!(
            "http://{address}/realms/{realm}/scim/v2/Users?count=1"
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("warm-up request");
    assert_eq!(warm.status(), 200, "warm-up: {}", server.log());

    // IN_FLIGHT connections, each with its headers and half its body sent.
    let mut pending = Vec::new();
    for n in 0..IN_FLIGHT {
        let (part1, part2, user_name) = split_create(&realm, &token, n);
        let mut stream = TcpStream::connect(&address).await.expect("connect");
        stream.write_all(&part1).await.expect("first half sent");
        pending.push((stream, part2, user_name));
    }
    // Connections are accepted in order and dealt round-robin to the
    // workers: once later connections were served by every worker, each
    // worker has taken the earlier ones too. Then a moment for them to read
    // the request heads.
    let probe = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    for _ in 0..4 {
        let healthz = probe
            .get(format!("http://{address}/healthz"))
            .send()
            .await
            .expect("healthz answered");
        assert_eq!(healthz.status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    server.terminate();
    // The server now refuses new connections but owes every accepted request.
    let deadline = Instant::now() + Duration::from_secs(5);
    while TcpStream::connect(&address).await.is_ok() {
        assert!(
            Instant::now() < deadline,
            "kc-scim still accepts connections 5 s after SIGTERM:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        matches!(server.child.try_wait(), Ok(None)),
        "kc-scim exited before answering the requests in flight:\n{}",
        server.log()
    );

    // Finish every request at once, so they also run concurrently.
    let tasks: Vec<_> = pending
        .into_iter()
        .map(|(mut stream, part2, user_name)| {
            tokio::spawn(async move {
                stream.write_all(&part2).await.expect("second half sent");
                let mut raw = Vec::new();
                let read =
                    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
                        .await;
                (read.is_ok_and(|r| r.is_ok()), raw, user_name)
            })
        })
        .collect();
    let mut created = Vec::new();
    for task in tasks {
        let (read_ok, raw, user_name) = task.await.expect("task");
        let (status, content_type, body) = parse_response(&raw);
        assert!(
            read_ok && status == 201,
            "a request in flight at SIGTERM was lost: read_ok={read_ok} status={status} \
             body={body}\nserver log:\n{}",
            server.log()
        );
        assert_eq!(content_type, "application/scim+json");
        assert_eq!(body["userName"], user_name.as_str(), "{body}");
        assert_eq!(
            body["schemas"][0], "urn:ietf:params:scim:schemas:core:2.0:User",
            "{body}"
        );
        created.push(body["id"].as_str().expect("id").to_owned());
    }

    let status = server
        .wait_exit(Duration::from_secs(30))
        .unwrap_or_else(|| panic!("kc-scim did not exit after SIGTERM:\n{}", server.log()));
    assert_eq!(
        status.code(),
        Some(0),
        "exit status; log:\n{}",
        server.log()
    );

    // Every answered create is in Keycloak: nothing was half-written.
    for id in created {
        assert!(
            kc.get_user(&realm, &id)
                .await
                .expect("Keycloak answers")
                .is_some(),
            "user {id} answered 201 but is not in Keycloak"
        );
    }
}
