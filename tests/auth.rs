//! Authentication and per-realm settings against a real Keycloak: each
//! credential kind (static token, Entra JWT, Keycloak client-credentials JWT)
//! is accepted on its own realm and refused on another; every kind of bad
//! credential is refused with a 401 SCIM error; token rotation works without
//! a restart across two servers; no secret reaches a log line; `realm` and
//! `doctor` subcommands. Entra's signing keys are replaced by a key server
//! started in the test, with RSA keys generated at test time.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use base64::Engine;
use common::{
    admin, assert_scim_error, eventually, fresh_realm, into_reply, kc_env, kc_scim, kc_url,
    master_admin_token, serving, start_server, Reply,
};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use kc_scim::bootstrap::{self, tokens, BootstrapOptions};
use kc_scim::keycloak::KcAdmin;
use kc_scim::mapping::{Profile, SCIM_CLIENT_ID};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{json, Value};

const ENTRA_AUDIENCE: &str = "8adf8e6e-67b2-4cf2-a259-e3dc5476c621";

// ---- keys and tokens ----------------------------------------------------

struct TestKey {
    kid: String,
    private_pem: String,
    public_pem: String,
    jwk: Value,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn generate_key(kid: &str) -> TestKey {
    let key = rsa::RsaPrivateKey::new(&mut rand::rngs::OsRng, 2048).expect("RSA key");
    let public = key.to_public_key();
    TestKey {
        kid: kid.to_owned(),
        private_pem: key
            .to_pkcs1_pem(LineEnding::LF)
            .expect("private PEM")
            .to_string(),
        public_pem: public
            .to_public_key_pem(LineEnding::LF)
            .expect("public PEM"),
        jwk: json!({
            "kty": "RSA", "use": "sig", "kid": kid,
            "n": b64(&public.n().to_bytes_be()),
            "e": b64(&public.e().to_bytes_be()),
        }),
    }
}

/// Two keys per test binary: `k1` is published from the start, `k2` is not.
fn keys() -> &'static (TestKey, TestKey) {
    static KEYS: OnceLock<(TestKey, TestKey)> = OnceLock::new();
    KEYS.get_or_init(|| (generate_key("k1"), generate_key("k2")))
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn entra_claims(tenant: &str) -> Value {
    json!({
        "iss": format!("https://sts.windows.net/{tenant}/"),
        "tid": tenant,
        "aud": ENTRA_AUDIENCE,
        "iat": now() - 10,
        "nbf": now() - 10,
        "exp": now() + 3600,
        "appid": "00000000-0000-0000-0000-000000000001",
    })
}

fn sign_rs256(key: &TestKey, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(key.private_pem.as_bytes()).expect("encoding key"),
    )
    .expect("signed")
}

fn entra_token(tenant: &str) -> String {
    let k1 = &keys().0;
    sign_rs256(k1, &k1.kid, &entra_claims(tenant))
}

// ---- a stand-in for Entra's key endpoint --------------------------------

struct KeyServer {
    url: String,
    hits: Arc<AtomicUsize>,
    jwks: Arc<Mutex<Value>>,
}

impl KeyServer {
    fn start(keys: &[&TestKey]) -> Self {
        let hits = Arc::new(AtomicUsize::new(0));
        let jwks = Arc::new(Mutex::new(
            json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()}),
        ));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let (h, j) = (hits.clone(), jwks.clone());
        let server = actix_web::HttpServer::new(move || {
            let (h, j) = (h.clone(), j.clone());
            actix_web::App::new().route(
                "/keys",
                actix_web::web::get().to(move || {
                    let (h, j) = (h.clone(), j.clone());
                    async move {
                        h.fetch_add(1, Ordering::SeqCst);
                        let body = j.lock().expect("lock").to_string();
                        actix_web::HttpResponse::Ok()
                            .content_type("application/json")
                            .body(body)
                    }
                }),
            )
        })
        .workers(1)
        .listen(listener)
        .expect("listen")
        .run();
        tokio::spawn(server);
        Self {
            url: format!("http://127.0.0.1:{port}/keys"),
            hits,
            jwks,
        }
    }

    fn publish(&self, keys: &[&TestKey]) {
        *self.jwks.lock().expect("lock") =
            json!({"keys": keys.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>()});
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// A server whose Entra keys come from `keys`; key sets may be refetched
/// once a second.
async fn server_with(keys: &KeyServer, realms: &[&str]) -> String {
    let settings = serving(
        realms,
        &[
            ("KCSCIM_AUTH__ENTRA_JWKS_URL", &keys.url),
            ("KCSCIM_AUTH__JWKS_MIN_REFETCH_SECS", "1"),
        ],
    );
    start_server(&settings).await.0
}

// ---- realms and requests ------------------------------------------------

async fn azure_realm(kc: &KcAdmin, prefix: &str, tenant: &str) -> String {
    let realm = fresh_realm(kc, prefix).await;
    bootstrap::run(
        kc,
        &BootstrapOptions {
            realm: realm.clone(),
            profile: Some(Profile::Azure),
            tenant_id: Some(tenant.to_owned()),
            ..BootstrapOptions::default()
        },
    )
    .await
    .expect("azure profile set");
    realm
}

fn tenant() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Entra's Test Connection with `authorization` as the header value.
async fn call(address: &str, realm: &str, authorization: Option<&str>) -> Reply {
    let filter = format!("userName eq \"{}\"", uuid::Uuid::new_v4());
    let mut req = reqwest::Client::new()
        .get(format!("{address}/realms/{realm}/scim/v2/Users"))
        .query(&[("filter", filter)]);
    if let Some(value) = authorization {
        req = req.header("Authorization", value);
    }
    into_reply(req.send().await.expect("request sent")).await
}

async fn call_bearer(address: &str, realm: &str, token: &str) -> Reply {
    call(address, realm, Some(&format!("Bearer {token}"))).await
}

fn assert_ok(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 200, "{what}: {}", reply.body);
    assert_eq!(reply.body["totalResults"], 0, "{what}");
}

fn assert_refused(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", reply.body);
    assert_scim_error(reply, 401, None);
    assert_eq!(reply.header("www-authenticate"), Some("Bearer"), "{what}");
}

/// The scim-endpoint client's secret.
async fn scim_client_secret(kc: &KcAdmin, realm: &str) -> String {
    let client = kc
        .find_client(realm, SCIM_CLIENT_ID)
        .await
        .expect("lookup")
        .expect("client");
    kc.client_secret(realm, &client.id.expect("id"))
        .await
        .expect("secret")
}

async fn client_token(kc: &KcAdmin, realm: &str, client_id: &str, secret: &str) -> String {
    let token = kc
        .client_credentials_token(realm, client_id, secret)
        .await
        .expect("token issued");
    token["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned()
}

/// A Keycloak access token of `realm`'s scim-endpoint client.
async fn remote_token(kc: &KcAdmin, realm: &str) -> String {
    let secret = scim_client_secret(kc, realm).await;
    client_token(kc, realm, SCIM_CLIENT_ID, &secret).await
}

// ---- each kind on its own realm only --------------------------------------

#[tokio::test]
async fn static_token_is_accepted_on_its_realm_and_refused_on_another() {
    let kc = admin();
    let a = fresh_realm(&kc, "st-a").await;
    let b = fresh_realm(&kc, "st-b").await;
    let (_, token) = tokens::create_token(&kc, &a, None).await.expect("token");
    let (address, _) = start_server(&serving(&[&a, &b], &[])).await;
    assert_ok(&call_bearer(&address, &a, &token).await, "own realm");
    assert_refused(&call_bearer(&address, &b, &token).await, "other realm");
}

#[tokio::test]
async fn entra_token_is_accepted_on_its_tenants_realm_and_refused_elsewhere() {
    let kc = admin();
    let (t1, t2) = (tenant(), tenant());
    let a = azure_realm(&kc, "en-a", &t1).await;
    let b = azure_realm(&kc, "en-b", &t2).await;
    let generic = fresh_realm(&kc, "en-g").await;
    let keys = KeyServer::start(&[&self::keys().0]);
    let address = server_with(&keys, &[&a, &b, &generic]).await;
    let token = entra_token(&t1);
    assert_ok(&call_bearer(&address, &a, &token).await, "own tenant");
    // The v2.0 issuer form of the same tenant.
    let mut v2 = entra_claims(&t1);
    v2["iss"] = json!(format!("https://login.microsoftonline.com/{t1}/v2.0"));
    let k1 = &self::keys().0;
    let v2_token = sign_rs256(k1, &k1.kid, &v2);
    assert_ok(&call_bearer(&address, &a, &v2_token).await, "v2.0 issuer");
    assert_refused(
        &call_bearer(&address, &b, &v2_token).await,
        "v2.0 issuer, other tenant",
    );
    let mut v2_other = v2.clone();
    v2_other["iss"] = json!(format!("https://login.microsoftonline.com/{t2}/v2.0"));
    assert_refused(
        &call_bearer(&address, &a, &sign_rs256(k1, &k1.kid, &v2_other)).await,
        "v2.0 issuer of another tenant with this tenant's tid",
    );
    assert_refused(
        &call_bearer(&address, &b, &token).await,
        "realm of another tenant",
    );
    assert_refused(
        &call_bearer(&address, &generic, &token).await,
        "generic realm",
    );
}

#[tokio::test]
async fn keycloak_token_is_accepted_on_its_realm_only_and_only_for_the_scim_client() {
    let kc = admin();
    let a = fresh_realm(&kc, "kt-a").await;
    let b = fresh_realm(&kc, "kt-b").await;
    let (address, _) = start_server(&serving(&[&a, &b], &[])).await;
    let token_a = remote_token(&kc, &a).await;
    assert_ok(&call_bearer(&address, &a, &token_a).await, "own realm");
    assert_refused(&call_bearer(&address, &b, &token_a).await, "other realm");
    let token_b = remote_token(&kc, &b).await;
    assert_refused(
        &call_bearer(&address, &a, &token_b).await,
        "a token of another realm",
    );
    // Another confidential client of realm A.
    let other = common::service_account_client("other-client");
    let other_id = kc.create_client(&a, &other).await.expect("client created");
    let other_secret = kc.client_secret(&a, &other_id).await.expect("secret");
    let other_token = client_token(&kc, &a, "other-client", &other_secret).await;
    assert_refused(
        &call_bearer(&address, &a, &other_token).await,
        "a token of another client",
    );
}

#[tokio::test]
async fn a_users_token_of_the_scim_client_is_refused_and_bootstrap_turns_the_user_flows_off() {
    let kc = admin();
    let realm = fresh_realm(&kc, "kt-user").await;
    let (address, _) = start_server(&serving(&[&realm], &[])).await;
    // An admin turns on the password grant on scim-endpoint (or the
    // browser flow): any user of the realm could then get a token of it.
    let mut client = kc
        .find_client(&realm, SCIM_CLIENT_ID)
        .await
        .expect("lookup")
        .expect("client");
    let client_uuid = client.id.clone().expect("id");
    client.direct_access_grants_enabled = Some(true);
    client.standard_flow_enabled = Some(true);
    kc.update_client(&realm, &client_uuid, &client)
        .await
        .expect("flows on");
    let admin_token = master_admin_token(&kc).await;
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/admin/realms/{realm}/users", kc_url()))
        .bearer_auth(&admin_token)
        .json(&json!({
            "username": "mallory", "enabled": true, "email": "mallory@example.com",
            "firstName": "Mal", "lastName": "Lory", "emailVerified": true,
            "credentials": [{"type": "password", "value": "pw-Mallory-1", "temporary": false}]
        }))
        .send()
        .await
        .expect("create user");
    assert_eq!(created.status(), 201);
    let secret = scim_client_secret(&kc, &realm).await;
    let user_token = kc
        .password_token(
            &realm,
            &[
                ("client_id", SCIM_CLIENT_ID),
                ("client_secret", &secret),
                ("username", "mallory"),
                ("password", "pw-Mallory-1"),
            ],
        )
        .await
        .expect("Keycloak issues the user a token of scim-endpoint");
    let user_token = user_token["access_token"].as_str().expect("access_token");
    assert_refused(
        &call_bearer(&address, &realm, user_token).await,
        "a user's token of the SCIM client",
    );
    let service_token = client_token(&kc, &realm, SCIM_CLIENT_ID, &secret).await;
    assert_ok(
        &call_bearer(&address, &realm, &service_token).await,
        "the service account's token",
    );
    // doctor fails while the flows are on; bootstrap turns them off.
    let mut env = kc_env();
    env.push(("KCSCIM_REALMS".to_owned(), realm.clone()));
    let doctor = kc_scim(&["doctor", "--realm", &realm, "--scim-url", &address], &env);
    let out = format!(
        "{}{}",
        stdout(&doctor),
        String::from_utf8_lossy(&doctor.stderr)
    );
    assert!(!doctor.status.success(), "{out}");
    assert!(out.contains("FAIL client credentials only"), "{out}");
    let boot = kc_scim(&["bootstrap", "--realm", &realm], &env);
    let boot_out = stdout(&boot);
    assert!(boot.status.success(), "{boot_out}");
    assert!(
        boot_out.contains("turned off standard flow, direct access grants"),
        "{boot_out}"
    );
    let after = kc
        .find_client(&realm, SCIM_CLIENT_ID)
        .await
        .expect("lookup")
        .expect("client");
    assert_eq!(after.standard_flow_enabled, Some(false));
    assert_eq!(after.direct_access_grants_enabled, Some(false));
    assert_eq!(after.implicit_flow_enabled, Some(false));
}

// ---- refused credentials --------------------------------------------------

#[tokio::test]
async fn missing_malformed_revoked_and_expired_static_credentials_are_refused() {
    let kc = admin();
    let realm = fresh_realm(&kc, "st-bad").await;
    let (good, good_secret) = tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    let (_, expired) = tokens::create_token(&kc, &realm, Some(0))
        .await
        .expect("expired token");
    let (revoked, revoked_secret) = tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    tokens::revoke_token(&kc, &realm, &revoked.id)
        .await
        .expect("revoked");
    let (address, _) = start_server(&serving(&[&realm], &[])).await;
    assert_ok(
        &call_bearer(&address, &realm, &good_secret).await,
        "good token",
    );
    assert_refused(&call(&address, &realm, None).await, "no header");
    assert_refused(
        &call(&address, &realm, Some(&format!("Basic {good_secret}"))).await,
        "wrong scheme",
    );
    assert_refused(
        &call(&address, &realm, Some("Bearer")).await,
        "empty bearer",
    );
    assert_refused(
        &call_bearer(&address, &realm, "kcscim_not-a-token").await,
        "unknown token",
    );
    assert_refused(&call_bearer(&address, &realm, "a.b.c").await, "garbage JWT");
    assert_refused(
        &call_bearer(&address, &realm, &revoked_secret).await,
        "revoked token",
    );
    assert_refused(
        &call_bearer(&address, &realm, &expired).await,
        "expired token",
    );
    assert!(!good.id.is_empty());
}

#[tokio::test]
async fn entra_tokens_with_bad_claims_algorithms_or_keys_are_refused() {
    let kc = admin();
    let t = tenant();
    let realm = azure_realm(&kc, "en-bad", &t).await;
    let (k1, k2) = keys();
    let keys = KeyServer::start(&[k1]);
    let address = server_with(&keys, &[&realm]).await;
    assert_ok(
        &call_bearer(&address, &realm, &entra_token(&t)).await,
        "good",
    );

    let with = |change: &dyn Fn(&mut Value)| {
        let mut claims = entra_claims(&t);
        change(&mut claims);
        sign_rs256(k1, &k1.kid, &claims)
    };
    let other = tenant();
    let cases = [
        (
            "wrong issuer (another tenant's)",
            with(&|c| c["iss"] = json!(format!("https://sts.windows.net/{other}/"))),
        ),
        (
            "wrong issuer (not Entra)",
            with(&|c| c["iss"] = json!("https://login.example.com/")),
        ),
        ("wrong tid", with(&|c| c["tid"] = json!(other))),
        ("no tid", with(&|c| c["tid"] = Value::Null)),
        (
            "wrong audience",
            with(&|c| c["aud"] = json!("00000003-0000-0000-c000-000000000000")),
        ),
        ("expired", with(&|c| c["exp"] = json!(now() - 3600))),
        ("not yet valid", with(&|c| c["nbf"] = json!(now() + 3600))),
        // Signed by a key that is not published, under the published kid.
        ("bad signature", sign_rs256(k2, &k1.kid, &entra_claims(&t))),
    ];
    for (what, token) in &cases {
        assert_refused(&call_bearer(&address, &realm, token).await, what);
    }

    // alg none: header and claims of a good token, no signature.
    let claims = b64(entra_claims(&t).to_string().as_bytes());
    for header in [
        json!({"alg": "none", "typ": "JWT", "kid": "k1"}),
        json!({"alg": "None", "typ": "JWT", "kid": "k1"}),
    ] {
        let unsigned = format!("{}.{claims}.", b64(header.to_string().as_bytes()));
        assert_refused(
            &call_bearer(&address, &realm, &unsigned).await,
            "alg none, empty signature",
        );
        let with_sig = format!("{}.{claims}.c2ln", b64(header.to_string().as_bytes()));
        assert_refused(&call_bearer(&address, &realm, &with_sig).await, "alg none");
    }

    // HS256 with the RSA public key as the HMAC secret (key confusion).
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(k1.kid.clone());
    for secret in [
        k1.public_pem.as_bytes().to_vec(),
        k1.jwk.to_string().into_bytes(),
    ] {
        let confused = jsonwebtoken::encode(
            &header,
            &entra_claims(&t),
            &EncodingKey::from_secret(&secret),
        )
        .expect("HS256");
        assert_refused(
            &call_bearer(&address, &realm, &confused).await,
            "HS256 signed with the public key",
        );
    }
}

#[tokio::test]
async fn an_unknown_kid_refetches_the_keys_at_most_once_per_interval() {
    let kc = admin();
    let t = tenant();
    let realm = azure_realm(&kc, "en-kid", &t).await;
    let (k1, k2) = keys();
    let keys = KeyServer::start(&[k1]);
    let address = server_with(&keys, &[&realm]).await;
    assert_ok(&call_bearer(&address, &realm, &entra_token(&t)).await, "k1");
    let fetched = keys.hits();
    assert_eq!(fetched, 1, "first use fetches the key set once");

    // Let the refetch interval (1 s) pass, then present a token of k2.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let by_k2 = sign_rs256(k2, &k2.kid, &entra_claims(&t));
    assert_refused(
        &call_bearer(&address, &realm, &by_k2).await,
        "unknown kid after a refetch",
    );
    assert_eq!(keys.hits(), fetched + 1, "an unknown kid refetches once");
    // A burst of unknown kids does not hammer the key server.
    for _ in 0..20 {
        assert_refused(&call_bearer(&address, &realm, &by_k2).await, "burst");
    }
    assert_eq!(keys.hits(), fetched + 1, "no refetch within the interval");
    assert_ok(
        &call_bearer(&address, &realm, &entra_token(&t)).await,
        "k1 still works",
    );

    // Entra rotates: k2 is published; after the interval it is accepted.
    keys.publish(&[k1, k2]);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_ok(&call_bearer(&address, &realm, &by_k2).await, "rotated key");
    assert_eq!(keys.hits(), fetched + 2);
}

// ---- rotation ---------------------------------------------------------------

#[tokio::test]
async fn revoking_one_of_two_tokens_keeps_the_other_on_two_servers_without_restart() {
    let kc = admin();
    let realm = fresh_realm(&kc, "rot").await;
    let (a, secret_a) = tokens::create_token(&kc, &realm, None).await.expect("A");
    let (_, secret_b) = tokens::create_token(&kc, &realm, None).await.expect("B");
    let settings = serving(&[&realm], &[]);
    let (one, _) = start_server(&settings).await;
    let (two, _) = start_server(&settings).await;
    for server in [&one, &two] {
        assert_ok(&call_bearer(server, &realm, &secret_a).await, "A");
        assert_ok(&call_bearer(server, &realm, &secret_b).await, "B");
    }

    // A token created while the servers run works at once on both.
    let (_, secret_c) = tokens::create_token(&kc, &realm, None).await.expect("C");
    for server in [&one, &two] {
        assert_ok(&call_bearer(server, &realm, &secret_c).await, "new token C");
    }

    tokens::revoke_token(&kc, &realm, &a.id)
        .await
        .expect("revoke A");
    for server in [&one, &two] {
        let refused = eventually(Duration::from_secs(6), || async {
            call_bearer(server, &realm, &secret_a).await.status == 401
        })
        .await;
        assert!(refused, "A refused after revocation (within the cache TTL)");
        assert_refused(&call_bearer(server, &realm, &secret_a).await, "A revoked");
        assert_ok(
            &call_bearer(server, &realm, &secret_b).await,
            "B after revoking A",
        );
    }
}

// ---- logs ---------------------------------------------------------------------

/// A `kc-scim serve` child process with JSON debug logs on stderr.
struct ServeProcess {
    child: std::process::Child,
    address: String,
    log: std::path::PathBuf,
}

impl ServeProcess {
    async fn start(extra: &[(&str, &str)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("free port")
            .local_addr()
            .expect("addr")
            .port();
        let log = std::env::temp_dir().join(format!("kcscim-log-{}.json", uuid::Uuid::new_v4()));
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_kc-scim"));
        for (key, _) in std::env::vars() {
            if key.starts_with("KCSCIM_") || key == "RUST_LOG" {
                cmd.env_remove(key);
            }
        }
        cmd.arg("serve")
            .envs(kc_env())
            .env("KCSCIM_HTTP__BIND", format!("127.0.0.1:{port}"))
            .env("KCSCIM_LOG__FORMAT", "json")
            .env("KCSCIM_SCIM__CACHE_TTL_SECS", "2")
            .env("RUST_LOG", "debug")
            .envs(extra.iter().map(|(k, v)| (*k, *v)))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"));
        let child = cmd.spawn().expect("kc-scim serve starts");
        let address = format!("http://127.0.0.1:{port}");
        let up = eventually(Duration::from_secs(30), || async {
            reqwest::get(format!("{address}/healthz"))
                .await
                .is_ok_and(|r| r.status().is_success())
        })
        .await;
        assert!(up, "kc-scim serve answers /healthz");
        Self {
            child,
            address,
            log,
        }
    }

    fn stop(mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let text = std::fs::read_to_string(&self.log).expect("log read");
        let _ = std::fs::remove_file(&self.log);
        text
    }
}

#[tokio::test]
async fn no_token_or_secret_appears_in_any_log_line() {
    let kc = admin();
    let t = tenant();
    let realm = azure_realm(&kc, "logs", &t).await;
    let (stored, static_secret) = tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    let client_secret = scim_client_secret(&kc, &realm).await;
    let (k1, k2) = keys();
    let keys = KeyServer::start(&[k1]);
    let server = ServeProcess::start(&[
        ("KCSCIM_AUTH__ENTRA_JWKS_URL", &keys.url),
        ("KCSCIM_AUTH__JWKS_MIN_REFETCH_SECS", "1"),
        ("KCSCIM_REALMS", &realm),
    ])
    .await;
    let address = server.address.clone();

    let entra = entra_token(&t);
    let remote = remote_token(&kc, &realm).await;
    let expired_entra = {
        let mut c = entra_claims(&t);
        c["exp"] = json!(now() - 3600);
        sign_rs256(k1, &k1.kid, &c)
    };
    let unknown_kid = sign_rs256(k2, &k2.kid, &entra_claims(&t));
    let (_, later_secret) = tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    let wrong_static = format!("{static_secret}x");

    assert_ok(
        &call_bearer(&address, &realm, &static_secret).await,
        "static",
    );
    assert_ok(
        &call_bearer(&address, &realm, &later_secret).await,
        "new static",
    );
    assert_ok(&call_bearer(&address, &realm, &entra).await, "entra");
    assert_ok(&call_bearer(&address, &realm, &remote).await, "remote");
    for bad in [&wrong_static, &expired_entra, &unknown_kid] {
        assert_refused(&call_bearer(&address, &realm, bad).await, "bad");
    }
    assert_refused(
        &call(&address, &realm, Some(&format!("Basic {static_secret}"))).await,
        "basic",
    );
    // A write, for the audit event.
    let created = reqwest::Client::new()
        .post(format!("{address}/realms/{realm}/scim/v2/Users"))
        .bearer_auth(&remote)
        .header("Content-Type", "application/scim+json")
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                   "userName": "log.check@example.com", "active": true})
            .to_string(),
        )
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);

    let log = server.stop();
    assert!(log.lines().count() > 5, "the run logged something: {log}");
    assert!(
        log.contains("authentication failed"),
        "failures are logged: {log}"
    );
    let signature = |jwt: &str| jwt.rsplit('.').next().unwrap_or_default().to_owned();
    let secrets = [
        ("static token", static_secret.clone()),
        (
            "its secret part",
            static_secret["kcscim_".len()..].to_owned(),
        ),
        ("stored hash", stored.sha256.clone()),
        ("new static token", later_secret.clone()),
        ("wrong static token", wrong_static.clone()),
        ("client secret", client_secret.clone()),
        ("Entra JWT", entra.clone()),
        ("Entra JWT signature", signature(&entra)),
        ("Keycloak JWT", remote.clone()),
        ("Keycloak JWT signature", signature(&remote)),
        ("expired JWT signature", signature(&expired_entra)),
        ("unknown-kid JWT signature", signature(&unknown_kid)),
    ];
    for (what, secret) in &secrets {
        assert!(!secret.is_empty());
        assert!(!log.contains(secret.as_str()), "{what} appears in the log");
    }
    for line in log.lines() {
        let parsed: Result<Value, _> = serde_json::from_str(line);
        assert!(parsed.is_ok(), "every log line is JSON: {line}");
    }
}

// ---- realm and doctor subcommands ------------------------------------------

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn a_tenant_id_another_realm_uses_is_refused_unless_sharing_is_allowed() {
    let kc = admin();
    let first = fresh_realm(&kc, "tn-a").await;
    let second = fresh_realm(&kc, "tn-b").await;
    // The check covers the served realms (all realms when none are listed:
    // slow on a Keycloak with hundreds of test realms).
    let mut env = kc_env();
    env.push(("KCSCIM_REALMS".to_owned(), format!("{first},{second}")));
    let t = tenant();
    let set = |realm: &str, extra: &[&str]| {
        let mut args = vec!["realm", "set", "--realm", realm, "--profile", "azure"];
        args.extend_from_slice(&["--tenant-id", &t]);
        args.extend_from_slice(extra);
        kc_scim(&args, &env)
    };
    let own = set(&first, &[]);
    assert!(own.status.success(), "{own:?}");
    let again = set(&first, &[]);
    assert!(
        again.status.success(),
        "the realm's own tenant id: {again:?}"
    );
    let shared = set(&second, &[]);
    let err = String::from_utf8_lossy(&shared.stderr).to_string();
    assert!(!shared.status.success(), "{err}");
    assert!(
        err.contains(&format!("already used by realm {first}")),
        "{err}"
    );
    let (_, settings) = kc_scim::settings_store::load(&kc, &second)
        .await
        .expect("settings");
    assert_eq!(settings.tenant_id, None, "nothing written");
    // Through bootstrap too.
    let boot = kc_scim(
        &[
            "bootstrap",
            "--realm",
            &second,
            "--profile",
            "azure",
            "--tenant-id",
            &t,
        ],
        &env,
    );
    assert!(!boot.status.success(), "{boot:?}");
    let allowed = set(&second, &["--allow-shared-tenant"]);
    assert!(allowed.status.success(), "{allowed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn realm_set_and_show_change_profile_tenant_and_enabled() {
    let kc = admin();
    let realm = fresh_realm(&kc, "cli").await;
    let mut env = kc_env();
    env.push(("KCSCIM_REALMS".to_owned(), realm.clone()));
    let no_tenant = kc_scim(
        &["realm", "set", "--realm", &realm, "--profile", "azure"],
        &env,
    );
    assert!(!no_tenant.status.success(), "azure needs a tenant id");
    let bad = kc_scim(
        &[
            "realm",
            "set",
            "--realm",
            &realm,
            "--tenant-id",
            "not-a-guid",
        ],
        &env,
    );
    assert!(!bad.status.success(), "a tenant id is a GUID");
    let t = tenant();
    let set = kc_scim(
        &[
            "realm",
            "set",
            "--realm",
            &realm,
            "--profile",
            "azure",
            "--tenant-id",
            &t,
        ],
        &env,
    );
    assert!(set.status.success(), "{set:?}");
    assert!(stdout(&set).contains("updated"), "{}", stdout(&set));
    let again = kc_scim(
        &[
            "realm",
            "set",
            "--realm",
            &realm,
            "--profile",
            "azure",
            "--tenant-id",
            &t,
        ],
        &env,
    );
    assert!(stdout(&again).contains("unchanged"), "{}", stdout(&again));
    let off = kc_scim(
        &["realm", "set", "--realm", &realm, "--enabled", "false"],
        &env,
    );
    assert!(off.status.success(), "{off:?}");
    let show = kc_scim(&["realm", "show", "--realm", &realm], &env);
    let text = stdout(&show);
    assert!(show.status.success(), "{show:?}");
    assert!(text.contains("enabled         false"), "{text}");
    assert!(text.contains("profile         azure"), "{text}");
    assert!(text.contains(&t), "{text}");

    // A disabled realm is not served: it answers like a bad credential,
    // whatever the credential. Listing it makes start-up ensure its setup,
    // which keeps an explicit "false".
    let (_, secret) = tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    let (address, _) = start_server(&serving(
        &[&realm],
        &[("KCSCIM_SCIM__REALM_REFRESH_SECS", "1")],
    ))
    .await;
    let reply = call_bearer(&address, &realm, &secret).await;
    assert_refused(&reply, "disabled realm");
    let on = kc_scim(
        &["realm", "set", "--realm", &realm, "--enabled", "true"],
        &env,
    );
    assert!(on.status.success(), "{on:?}");
    let served = eventually(Duration::from_secs(6), || async {
        call_bearer(&address, &realm, &secret).await.status == 200
    })
    .await;
    assert!(served, "re-enabled realm is served again");
}

// The doctor runs as a child process while this test's server answers it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn doctor_passes_on_a_bootstrapped_realm_and_names_each_failure() {
    let kc = admin();
    let realm = fresh_realm(&kc, "doc").await;
    let (address, _) = start_server(&serving(&[&realm], &[])).await;
    let env = kc_env();
    let doctor = |extra: &[&str], env: &[(String, String)]| {
        let mut args = vec!["doctor", "--realm", realm.as_str(), "--scim-url", &address];
        args.extend_from_slice(extra);
        kc_scim(&args, env)
    };

    // No static token yet: doctor issues one for the check and revokes it.
    let out = doctor(&[], &env);
    let text = stdout(&out);
    assert!(!out.status.success(), "no usable credential yet: {text}");
    assert!(text.contains("FAIL usable credential"), "{text}");
    assert!(text.contains("ok   scim request"), "{text}");
    assert!(
        tokens::list_tokens(&kc, &realm)
            .await
            .expect("list")
            .is_empty(),
        "the check's token is revoked"
    );

    let (_, secret) = tokens::create_token(&kc, &realm, None)
        .await
        .expect("token");
    let out = doctor(&[], &env);
    let text = stdout(&out);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.matches("\nok   ").count() + 1, 14, "{text}");
    assert!(!text.contains(&secret));
    assert_eq!(
        tokens::list_tokens(&kc, &realm).await.expect("list").len(),
        1
    );
    let with_token = doctor(&["--token", &secret], &env);
    assert!(with_token.status.success(), "{}", stdout(&with_token));

    // A deleted mapper is named.
    let client = kc
        .find_client(&realm, SCIM_CLIENT_ID)
        .await
        .expect("lookup")
        .expect("client");
    let client_id = client.id.expect("id");
    let tag = kc
        .protocol_mappers(&realm, &client_id)
        .await
        .expect("mappers")
        .into_iter()
        .find(|m| m.name == "tag")
        .expect("tag mapper");
    kc.delete_protocol_mapper(&realm, &client_id, &tag.id.expect("id"))
        .await
        .expect("deleted");
    let out = doctor(&[], &env);
    let text = stdout(&out);
    assert!(!out.status.success());
    assert!(
        text.contains("FAIL seven mappers present: missing: tag"),
        "{text}"
    );

    // A disabled realm.
    let off = kc_scim(
        &["realm", "set", "--realm", &realm, "--enabled", "false"],
        &env,
    );
    assert!(off.status.success());
    let out = doctor(&[], &env);
    let text = stdout(&out);
    assert!(!out.status.success());
    assert!(text.contains("FAIL scim enabled"), "{text}");

    // Keycloak down (nothing listens on port 1).
    let mut down = env.clone();
    for (k, v) in &mut down {
        if k == "KCSCIM_KEYCLOAK__URL" {
            *v = "http://127.0.0.1:1".to_owned();
        }
    }
    let out = doctor(&[], &down);
    let text = stdout(&out);
    assert!(!out.status.success());
    assert!(text.starts_with("FAIL keycloak reachable"), "{text}");
    assert_eq!(
        text.lines().filter(|l| l.starts_with("FAIL")).count(),
        14,
        "{text}"
    );
}
