//! The reverse proxy of docker-compose.yml, for real: nginx (Debian's, which
//! `make test` installs through scripts/ensure-tools.sh) runs the server block
//! of `deploy/nginx/templates/default.conf.template` in front of the test
//! Keycloak and a kc-scim, and Entra's calls go through it to the Tenant URL
//! `http://<proxy>/realms/<realm>/scim/v2`, while everything else on the same
//! host is answered by Keycloak.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{admin, assert_scim_error, free_port, fresh_realm, kc_url, start_server, TestApp};
use serde_json::{json, Value};

const TEMPLATE: &str = include_str!("../deploy/nginx/templates/default.conf.template");

/// `host:port` of a base URL such as `http://127.0.0.1:18080`.
fn host_port(base: &str) -> String {
    let url = url::Url::parse(base).expect("base URL");
    format!(
        "{}:{}",
        url.host_str().expect("host"),
        url.port_or_known_default().expect("port")
    )
}

fn nginx_binary() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':').chain([
        "/usr/sbin",
        "/usr/local/sbin",
        "/usr/local/nginx/sbin",
    ]) {
        let candidate = Path::new(dir).join("nginx");
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "nginx is not installed, and this test needs a real one: run \
         scripts/ensure-tools.sh (`make test` and .ci/run do) or `apt-get install nginx`"
    );
}

/// Fills in the template's three placeholders, as envsubst does in the
/// official nginx image.
fn render(listen: &str, keycloak: &str, kc_scim: &str) -> String {
    let out = TEMPLATE
        .replace("${PROXY_LISTEN}", listen)
        .replace("${KEYCLOAK_UPSTREAM}", keycloak)
        .replace("${KCSCIM_UPSTREAM}", kc_scim);
    assert!(
        !out.contains("${"),
        "the template has a placeholder the test does not fill"
    );
    out
}

/// A running nginx in its own temporary directory; stopped on drop.
struct Nginx {
    child: Child,
    dir: PathBuf,
    url: String,
}

impl Nginx {
    fn start(port: u16, keycloak: &str, kc_scim: &str) -> Self {
        let binary = nginx_binary();
        let dir = std::env::temp_dir().join(format!("kcscim-nginx-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let server = render(&format!("127.0.0.1:{port}"), keycloak, kc_scim);
        std::fs::write(dir.join("default.conf"), server).expect("write server block");
        // Workers of a root master would run as `nobody`, which may lack a group.
        let user = if is_root() { "user root root;\n" } else { "" };
        let d = dir.display();
        let main = format!(
            "{user}daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log info;\nevents {{ worker_connections 256; }}\n\
             http {{\n  access_log {d}/access.log;\n  client_body_temp_path {d}/body;\n\
             \x20 proxy_temp_path {d}/proxy;\n  fastcgi_temp_path {d}/fastcgi;\n\
             \x20 uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             \x20 include {d}/default.conf;\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).expect("write nginx.conf");
        let conf = dir.join("nginx.conf");
        let test = Command::new(&binary)
            .arg("-t")
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf)
            .output()
            .expect("nginx -t runs");
        assert!(
            test.status.success(),
            "nginx rejects the rendered template: {}",
            String::from_utf8_lossy(&test.stderr)
        );
        let child = Command::new(&binary)
            .arg("-p")
            .arg(&dir)
            .arg("-e")
            .arg(dir.join("error.log"))
            .arg("-c")
            .arg(&conf)
            .stdin(Stdio::null())
            .spawn()
            .expect("nginx starts");
        let mut nginx = Self {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}"),
        };
        nginx.wait_listening(port);
        nginx
    }

    fn wait_listening(&mut self, port: u16) {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            if let Some(status) = self.child.try_wait().expect("nginx status") {
                panic!("nginx exited with {status}: {}", self.error_log());
            }
            let pid_written = self.dir.join("nginx.pid").is_file();
            if pid_written && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "nginx not listening on {port} after 15 s: {}",
                self.error_log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM to the master ends its workers too; SIGKILL would orphan them.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                let _ = std::fs::remove_dir_all(&self.dir);
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0)
}

/// A realm, kc-scim whose public URL is the proxy's, and nginx in front of
/// kc-scim and Keycloak. Returns the client pointed at the proxy, the one
/// pointed at kc-scim directly, and the proxy.
async fn stack(prefix: &str) -> (TestApp, TestApp, Nginx) {
    let kc = admin();
    let realm = fresh_realm(&kc, prefix).await;
    let (_, token) = kc_scim::bootstrap::tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    let proxy_port = free_port();
    let proxy_url = format!("http://127.0.0.1:{proxy_port}");
    let settings = common::serving(
        &[&realm],
        &[("KCSCIM_KEYCLOAK__PUBLIC_URL", proxy_url.as_str())],
    );
    let (address, directory) = start_server(&settings).await;
    let nginx = Nginx::start(proxy_port, &host_port(&kc_url()), &host_port(&address));
    let via_proxy = TestApp {
        address: nginx.url.clone(),
        realm: realm.clone(),
        token: token.clone(),
        directory: directory.clone(),
        kc: kc.clone(),
        http: reqwest::Client::new(),
    };
    let direct = TestApp {
        address,
        realm,
        token,
        directory,
        kc,
        http: reqwest::Client::new(),
    };
    (via_proxy, direct, nginx)
}

fn served_by_nginx(reply: &common::Reply) -> bool {
    reply
        .header("server")
        .is_some_and(|s| s.starts_with("nginx"))
}

#[tokio::test]
async fn test_connection_through_the_proxy_answers_an_empty_list() {
    let (proxy, direct, _nginx) = stack("proxy-tc").await;
    let guid = uuid::Uuid::new_v4();
    let calls_before = direct.kc_calls();
    let reply = proxy
        .get(&format!("/Users?filter=userName%20eq%20%22{guid}%22"))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(served_by_nginx(&reply), "{:?}", reply.headers);
    assert_eq!(reply.header("content-type"), Some("application/scim+json"));
    assert_eq!(
        reply.body["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:ListResponse"])
    );
    assert_eq!(reply.body["totalResults"], 0, "{}", reply.body);
    assert_eq!(reply.body["Resources"], json!([]), "{}", reply.body);
    assert!(
        direct.kc_calls() > calls_before,
        "the request did not reach this kc-scim"
    );
}

#[tokio::test]
async fn create_patch_delete_user_through_the_proxy() {
    let (proxy, direct, _nginx) = stack("proxy-crud").await;
    let user_name = format!("Proxy_User_{}@Contoso.com", uuid::Uuid::new_v4().simple());
    let created = proxy
        .post(
            "/Users",
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": user_name,
                "active": true,
                "externalId": "proxy-ext-1",
                "name": {"givenName": "Pat", "familyName": "Proxy"},
                "emails": [{"primary": true, "type": "work", "value": "pat.proxy@example.com"}]
            }),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert!(served_by_nginx(&created));
    let id = created.body["id"].as_str().expect("id").to_owned();
    // meta.location is the Tenant URL form on the proxy's host.
    let location = format!(
        "{}/realms/{}/scim/v2/Users/{id}",
        proxy.address, proxy.realm
    );
    assert_eq!(created.body["meta"]["location"], location.as_str());
    assert_eq!(created.header("location"), Some(location.as_str()));
    assert_eq!(created.body["userName"], user_name.as_str());

    let found = proxy
        .get(&format!("/Users?filter=userName%20eq%20%22{user_name}%22"))
        .await;
    assert_eq!(found.status, 200, "{}", found.body);
    assert_eq!(found.body["totalResults"], 1, "{}", found.body);
    assert_eq!(found.body["Resources"][0]["id"], id.as_str());

    let patched = proxy
        .patch(
            &format!("/Users/{id}"),
            &json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": [
                    {"op": "Replace", "path": "name.familyName", "value": "Proxied"},
                    {"op": "Replace", "path": "active", "value": "False"}
                ]
            }),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["name"]["familyName"], "Proxied");
    assert_eq!(patched.body["active"], false);
    let stored = direct
        .kc
        .get_user(&direct.realm, &id)
        .await
        .expect("Keycloak answers")
        .expect("the user exists in Keycloak");
    assert_eq!(stored.last_name.as_deref(), Some("Proxied"));
    assert_eq!(stored.enabled, Some(false));

    let deleted = proxy.delete(&format!("/Users/{id}")).await;
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    let gone = proxy.get(&format!("/Users/{id}")).await;
    assert_scim_error(&gone, 404, None);
    assert!(direct
        .kc
        .get_user(&direct.realm, &id)
        .await
        .expect("Keycloak answers")
        .is_none());
}

#[tokio::test]
async fn scim_errors_through_the_proxy_stay_scim() {
    let (proxy, _direct, _nginx) = stack("proxy-err").await;
    let reply = common::into_reply(
        proxy
            .http
            .get(proxy.scim("/Users"))
            .bearer_auth("not-a-token")
            .send()
            .await
            .expect("sent"),
    )
    .await;
    assert_scim_error(&reply, 401, None);
    assert!(served_by_nginx(&reply));
}

#[tokio::test]
async fn everything_else_on_the_host_is_keycloak() {
    let (proxy, _direct, _nginx) = stack("proxy-kc").await;
    let url = format!(
        "{}/realms/{}/.well-known/openid-configuration",
        proxy.address, proxy.realm
    );
    let reply = common::into_reply(proxy.http.get(&url).send().await.expect("sent")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(served_by_nginx(&reply));
    // Keycloak saw the proxy's Host header: its issuer is on the proxy's host.
    let issuer = format!("{}/realms/{}", proxy.address, proxy.realm);
    assert_eq!(reply.body["issuer"], issuer.as_str(), "{}", reply.body);
    assert!(reply.body["token_endpoint"]
        .as_str()
        .is_some_and(|t| t.starts_with(&issuer)));

    // The sidecar's own endpoints are not published through the proxy.
    for path in ["/healthz", "/readyz"] {
        let reply = proxy
            .http
            .get(format!("{}{path}", proxy.address))
            .send()
            .await
            .expect("sent");
        assert_eq!(
            reply.status(),
            404,
            "{path} must reach Keycloak, not kc-scim"
        );
    }
    // A path that only starts like the SCIM base is Keycloak's too.
    let lookalike = proxy
        .http
        .get(format!(
            "{}/realms/{}/scim/v2x/Users",
            proxy.address, proxy.realm
        ))
        .bearer_auth(&proxy.token)
        .send()
        .await
        .expect("sent");
    let body: Value = lookalike.json().await.unwrap_or(Value::Null);
    assert!(
        body.get("schemas").is_none(),
        "kc-scim answered a path outside /scim/v2/: {body}"
    );
}

#[tokio::test]
async fn the_admin_page_signs_in_through_the_proxy_on_one_host() {
    let proxy_port = free_port();
    let proxy_url = format!("http://127.0.0.1:{proxy_port}");
    let sidecar_port = free_port();
    let r =
        common::admin_realm::admin_realm_at("proxy-admin", sidecar_port, &proxy_url, &proxy_url)
            .await;
    let _nginx = Nginx::start(
        proxy_port,
        &host_port(&kc_url()),
        &format!("127.0.0.1:{sidecar_port}"),
    );
    // Page, Keycloak's login form and the callback all on the proxy's host.
    let (_, status, body) = r.sign_in("alice").await;
    assert_eq!(status, 200, "{body}");
    let tenant_url = format!("{proxy_url}/realms/{}/scim/v2", r.realm);
    assert!(body.contains(&tenant_url), "{body}");
    let end_session = format!(
        "{proxy_url}/realms/{}/protocol/openid-connect/logout",
        r.realm
    );
    assert!(body.contains(&end_session), "{body}");
    // A path that only starts like the page is Keycloak's.
    let lookalike = reqwest::Client::new()
        .get(format!("{proxy_url}/realms/{}/scim/adminx/", r.realm))
        .send()
        .await
        .expect("sent");
    let csp = lookalike
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    // kc-scim's page policy forbids <base>; Keycloak's does not say so.
    assert!(
        !csp.contains("base-uri 'none'"),
        "kc-scim answered a path outside /scim/admin/: {csp}"
    );
}
