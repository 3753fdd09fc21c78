//! `kc-scim-bench`: the load driver behind `make bench`, `make bench-quick`
//! and `make bench-users-2000` (docs/benchmarks.md).
//!
//! It replays Entra-shaped workloads against three targets on one Keycloak,
//! side by side, in one run:
//!
//! * `a` — kc-scim (`kc-scim serve`, a separate release process);
//! * `b` — Keycloak's own SCIM API (`--features=scim-api`) on a second realm
//!   with the same template and the same seeded data;
//! * `c` — the raw Admin API calls a perfect translator would make, on the
//!   realm kc-scim serves.
//!
//! Workloads (each at every requested concurrency, targets interleaved so
//! that the three numbers of a row were measured close together in time):
//! `sync` (`externalId eq` lookup that misses, then create with the body of
//! Entra's tutorial), `steady` (get, PATCH replace name, PATCH active
//! false), `groups` (PATCH Add one member), `list` (pages of 100 at random
//! start indexes). Keycloak calls per SCIM operation of kc-scim come from an
//! in-process server built with the library (`KcAdmin::stats()`), since the
//! separate process exposes no call counter.
//!
//! Only loopback URLs are accepted; every phase has a request count and a
//! time bound. Built only with `--features bench`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Client of realm `b` that holds the SCIM API roles (created by `setup-native`).
const NATIVE_CLIENT: &str = "bench-scim-client";
const NATIVE_SECRET: &str = "bench-scim-secret";
const PAGE: usize = 100;

// ---------------------------------------------------------------- arguments

/// `--key value` pairs after the mode word.
struct Args(BTreeMap<String, String>);

impl Args {
    fn parse(raw: &[String]) -> Self {
        let mut map = BTreeMap::new();
        let mut it = raw.iter();
        while let Some(k) = it.next() {
            let key = k
                .strip_prefix("--")
                .unwrap_or_else(|| panic!("expected --option, got {k:?}"));
            let value = it
                .next()
                .unwrap_or_else(|| panic!("--{key} needs a value"))
                .clone();
            map.insert(key.to_owned(), value);
        }
        Self(map)
    }
    fn get(&self, key: &str) -> String {
        self.0
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("missing --{key}"))
    }
    fn or(&self, key: &str, default: &str) -> String {
        self.0
            .get(key)
            .cloned()
            .unwrap_or_else(|| default.to_owned())
    }
    fn num(&self, key: &str, default: usize) -> usize {
        self.or(key, &default.to_string())
            .parse()
            .unwrap_or_else(|_| panic!("--{key} must be a number"))
    }
    fn loopback(&self, key: &str) -> String {
        let url = self.get(key);
        let parsed = url::Url::parse(&url).unwrap_or_else(|_| panic!("--{key}: bad URL {url}"));
        assert!(
            matches!(parsed.host_str(), Some("127.0.0.1" | "localhost" | "[::1]")),
            "--{key} must be a loopback URL (the bench never leaves this machine)"
        );
        url.trim_end_matches('/').to_owned()
    }
}

fn main() {
    let raw: Vec<String> = std::env::args().skip(1).collect();
    let Some((mode, rest)) = raw.split_first() else {
        eprintln!(
            "usage: kc-scim-bench seed|setup-native|run|users2000 --option value …\n\
             (scripts/bench.sh drives it; docs/benchmarks.md explains the options)"
        );
        std::process::exit(2);
    };
    let args = Args::parse(rest);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let ok = runtime.block_on(async move {
        match mode.as_str() {
            "seed" => seed(&args).await,
            "setup-native" => setup_native(&args).await,
            "run" => run(&args).await,
            "users2000" => users2000(&args).await,
            other => panic!("unknown mode {other:?}"),
        }
    });
    std::process::exit(i32::from(!ok));
}

// ---------------------------------------------------------------- tokens

/// A bearer token kept fresh by a background task (admin tokens of the
/// master realm live 60 s by default).
#[derive(Clone)]
struct Token(Arc<RwLock<String>>);

impl Token {
    fn get(&self) -> String {
        self.0.read().expect("token lock").clone()
    }
}

async fn fetch_token(http: &reqwest::Client, url: &str, form: &[(&str, &str)]) -> String {
    let reply: Value = http
        .post(url)
        .form(form)
        .send()
        .await
        .expect("token endpoint reachable")
        .error_for_status()
        .expect("token granted")
        .json()
        .await
        .expect("token JSON");
    reply["access_token"]
        .as_str()
        .expect("access_token in token reply")
        .to_owned()
}

async fn refreshed_token(
    http: reqwest::Client,
    url: String,
    form: Vec<(&'static str, String)>,
) -> Token {
    let pairs = |f: &[(&'static str, String)]| -> Vec<(&'static str, String)> { f.to_vec() };
    let first = {
        let f = pairs(&form);
        let borrowed: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        fetch_token(&http, &url, &borrowed).await
    };
    let token = Token(Arc::new(RwLock::new(first)));
    let shared = token.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(25)).await;
            let borrowed: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            let fresh = fetch_token(&http, &url, &borrowed).await;
            *shared.0.write().expect("token lock") = fresh;
        }
    });
    token
}

async fn admin_token(http: &reqwest::Client, kc: &str) -> Token {
    refreshed_token(
        http.clone(),
        format!("{kc}/realms/master/protocol/openid-connect/token"),
        vec![
            ("grant_type", "password".to_owned()),
            ("client_id", "admin-cli".to_owned()),
            (
                "username",
                std::env::var("KC_ADMIN_USER").unwrap_or("admin".into()),
            ),
            (
                "password",
                std::env::var("KC_ADMIN_PASSWORD").unwrap_or("admin".into()),
            ),
        ],
    )
    .await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .expect("HTTP client")
}

// ---------------------------------------------------------------- seeding

/// `seed --kc-url U --realm R --users N [--prefix seed]`: partial import of
/// N users (chunks of 1,000) with the attributes kc-scim maps.
async fn seed(args: &Args) -> bool {
    let kc = args.loopback("kc-url");
    let realm = args.get("realm");
    let n = args.num("users", 1000);
    let prefix = args.or("prefix", "seed");
    // A partial import of a thousand users takes seconds on a busy machine.
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .expect("HTTP client");
    let token = admin_token(&http, &kc).await;
    let t0 = Instant::now();
    let mut i = 0;
    while i < n {
        let end = (i + 1000).min(n);
        let users: Vec<Value> = (i..end).map(|k| seed_user(&prefix, k)).collect();
        let reply = http
            .post(format!("{kc}/admin/realms/{realm}/partialImport"))
            .bearer_auth(token.get())
            .json(&json!({"ifResourceExists": "SKIP", "users": users}))
            .send()
            .await
            .expect("partial import sent");
        let status = reply.status();
        assert!(
            status.is_success(),
            "partial import: {status} {}",
            reply.text().await.unwrap_or_default()
        );
        i = end;
    }
    eprintln!(
        "seeded {n} users into {realm} in {:.1}s",
        t0.elapsed().as_secs_f64()
    );
    true
}

/// User `k` of a seed: what kc-scim would have written for it.
fn seed_user(prefix: &str, k: usize) -> Value {
    json!({
        "username": format!("{prefix}{k:05}@contoso.com"),
        "enabled": true,
        "email": format!("{prefix}{k:05}@mail.contoso.com"),
        "firstName": "Seed",
        "lastName": format!("Fam{k:05}"),
        "attributes": {
            "externalId": [format!("ext-{prefix}{k:05}")],
            "userPrincipalName": [format!("{prefix}{k:05}@Contoso.com")],
            "givenName": ["Seed"],
            "surName": [format!("Fam{k:05}")],
            "isSoftDeleted": ["true"]
        }
    })
}

/// `setup-native --kc-url U --realm R`: switches Keycloak's SCIM API on for
/// realm R and creates a service-account client that may call it
/// (`manage-users`, `view-users`, `query-groups`, and the audience Keycloak
/// checks: the realm's SCIM base URL).
async fn setup_native(args: &Args) -> bool {
    let kc = args.loopback("kc-url");
    let realm = args.get("realm");
    let http = client();
    let token = admin_token(&http, &kc).await;
    let admin = |path: &str| format!("{kc}/admin/realms/{realm}{path}");
    let send = |req: reqwest::RequestBuilder| {
        let t = token.get();
        async move {
            let r = req.bearer_auth(t).send().await.expect("admin call sent");
            let status = r.status();
            let body = r.text().await.unwrap_or_default();
            assert!(status.is_success(), "admin call: {status} {body}");
            serde_json::from_str::<Value>(&body).unwrap_or(Value::Null)
        }
    };
    let mut rep = send(http.get(admin(""))).await;
    rep["scimApiEnabled"] = json!(true);
    send(http.put(admin("")).json(&rep)).await;
    let existing = send(http.get(admin(&format!("/clients?clientId={NATIVE_CLIENT}")))).await;
    if existing.as_array().is_none_or(Vec::is_empty) {
        send(http.post(admin("/clients")).json(&json!({
            "clientId": NATIVE_CLIENT,
            "publicClient": false,
            "secret": NATIVE_SECRET,
            "serviceAccountsEnabled": true,
            "standardFlowEnabled": false,
            "attributes": {"access.token.lifespan": "3600"},
            "protocolMappers": [{
                "name": "scim-audience",
                "protocol": "openid-connect",
                "protocolMapper": "oidc-audience-mapper",
                "config": {
                    "included.custom.audience": format!("{kc}/realms/{realm}/scim/v2"),
                    "access.token.claim": "true"
                }
            }]
        })))
        .await;
    }
    let cid = send(http.get(admin(&format!("/clients?clientId={NATIVE_CLIENT}")))).await[0]["id"]
        .as_str()
        .expect("client id")
        .to_owned();
    let sa = send(http.get(admin(&format!("/clients/{cid}/service-account-user")))).await["id"]
        .as_str()
        .expect("service account")
        .to_owned();
    let rm = send(http.get(admin("/clients?clientId=realm-management"))).await[0]["id"]
        .as_str()
        .expect("realm-management")
        .to_owned();
    let roles: Vec<Value> = send(http.get(admin(&format!("/clients/{rm}/roles"))))
        .await
        .as_array()
        .expect("roles")
        .iter()
        .filter(|r| {
            matches!(
                r["name"].as_str(),
                Some("manage-users" | "view-users" | "query-groups" | "query-users")
            )
        })
        .cloned()
        .collect();
    send(
        http.post(admin(&format!("/users/{sa}/role-mappings/clients/{rm}")))
            .json(&roles),
    )
    .await;
    eprintln!("Keycloak SCIM API enabled on realm {realm} (client {NATIVE_CLIENT})");
    true
}

// ---------------------------------------------------------------- targets

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Target {
    /// kc-scim.
    A,
    /// Keycloak's own SCIM API.
    B,
    /// Raw Admin API calls.
    C,
}

const TARGETS: [Target; 3] = [Target::A, Target::B, Target::C];

impl Target {
    fn label(self) -> &'static str {
        match self {
            Target::A => "a",
            Target::B => "b",
            Target::C => "c",
        }
    }
}

struct Ctx {
    http: reqwest::Client,
    kc: String,
    /// kc-scim's SCIM base of realm a.
    scim_a: String,
    token_a: String,
    /// Keycloak's SCIM base of realm b.
    scim_b: String,
    token_b: Token,
    realm_a: String,
    admin: Token,
}

/// One timed request (or, for target c, the calls of one operation).
struct Sample {
    kind: &'static str,
    elapsed: Duration,
    ok: bool,
}

#[derive(Clone)]
enum Op {
    /// `externalId eq` miss, then create.
    Sync(String),
    /// get, PATCH replace name, PATCH active false on a user id.
    Steady(String, usize),
    /// add one member (user id) to a group (group id).
    AddMember(String, String),
    /// one page from a 1-based start index.
    List(usize),
}

struct Done {
    samples: Vec<Sample>,
    created: Option<String>,
}

async fn timed(req: reqwest::RequestBuilder) -> (Duration, Result<Value, String>) {
    let t0 = Instant::now();
    let result = match req.send().await {
        Ok(r) => {
            let status = r.status();
            let headers = r.headers().clone();
            match r.bytes().await {
                Ok(body) if status.is_success() => {
                    let mut v = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    if v.is_null() {
                        if let Some(loc) = headers.get("location").and_then(|l| l.to_str().ok()) {
                            v = json!({"location": loc});
                        }
                    }
                    Ok(v)
                }
                Ok(body) => Err(format!("{status} {}", String::from_utf8_lossy(&body))),
                Err(e) => Err(e.to_string()),
            }
        }
        Err(e) => Err(e.to_string()),
    };
    (t0.elapsed(), result)
}

fn patch_body(ops: &Value) -> Value {
    json!({"schemas": [PATCH_OP], "Operations": ops})
}

/// Entra's create-user body (the tutorial's, with the enterprise extension).
fn entra_user(n: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": format!("ext-{n}"),
        "userName": format!("Bench_{n}@Contoso.com"),
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": format!("bench_{n}@testuser.com")}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        ENTERPRISE: {"department": "Sales"}
    })
}

/// The Keycloak representation a perfect translator writes for [`entra_user`].
fn kc_user(n: &str) -> Value {
    json!({
        "username": format!("bench_{n}@contoso.com"),
        "enabled": true,
        "email": format!("bench_{n}@testuser.com"),
        "firstName": "givenName",
        "lastName": "familyName",
        "attributes": {
            "externalId": [format!("ext-{n}")],
            "userPrincipalName": [format!("Bench_{n}@Contoso.com")],
            "givenName": ["givenName"],
            "surName": ["familyName"],
            "isSoftDeleted": ["true"]
        }
    })
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Ctx {
    fn scim(&self, t: Target, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let (base, token) = match t {
            Target::A => (&self.scim_a, self.token_a.clone()),
            _ => (&self.scim_b, self.token_b.get()),
        };
        self.http
            .request(method, format!("{base}{path}"))
            .bearer_auth(token)
            .header("Content-Type", "application/scim+json")
    }

    fn admin(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(
                method,
                format!("{}/admin/realms/{}{path}", self.kc, self.realm_a),
            )
            .bearer_auth(self.admin.get())
    }

    async fn exec(&self, t: Target, op: &Op) -> Done {
        use reqwest::Method as M;
        let mut samples = Vec::new();
        let mut created = None;
        let mut push = |kind, (d, r): (Duration, Result<Value, String>)| {
            if let Err(e) = &r {
                eprintln!(
                    "{} {kind}: {}",
                    t.label(),
                    e.chars().take(200).collect::<String>()
                );
            }
            samples.push(Sample {
                kind,
                elapsed: d,
                ok: r.is_ok(),
            });
            r.ok()
        };
        match (t, op) {
            (Target::A | Target::B, Op::Sync(n)) => {
                let f = enc(&format!("externalId eq \"ext-{n}\""));
                push(
                    "lookup-miss",
                    timed(self.scim(t, M::GET, &format!("/Users?filter={f}"))).await,
                );
                let body = entra_user(n).to_string();
                let v = push(
                    "create",
                    timed(self.scim(t, M::POST, "/Users").body(body)).await,
                );
                created = v.and_then(|v| v["id"].as_str().map(str::to_owned));
            }
            (Target::C, Op::Sync(n)) => {
                let q = enc(&format!("externalId:ext-{n}"));
                push(
                    "lookup-miss",
                    timed(self.admin(
                        M::GET,
                        &format!("/users?briefRepresentation=false&first=0&max=2&q={q}"),
                    ))
                    .await,
                );
                // POST, then GET the created user: a SCIM response carries
                // the whole resource with its server-set parts.
                let (d1, r1) = timed(self.admin(M::POST, "/users").json(&kc_user(n))).await;
                let id = r1.as_ref().ok().and_then(|v| {
                    v["location"]
                        .as_str()
                        .and_then(|l| l.rsplit('/').next())
                        .map(str::to_owned)
                });
                let (d2, r2) = match &id {
                    Some(id) => timed(self.admin(M::GET, &format!("/users/{id}"))).await,
                    None => (Duration::ZERO, r1.clone()),
                };
                push("create", (d1 + d2, r1.and(r2)));
                created = id;
            }
            (Target::A | Target::B, Op::Steady(id, round)) => {
                push(
                    "get",
                    timed(self.scim(t, M::GET, &format!("/Users/{id}"))).await,
                );
                let ops = json!([
                    {"op": "Replace", "path": "name.givenName", "value": format!("Given{round}")},
                    {"op": "Replace", "path": "name.familyName", "value": format!("Family{round}")}
                ]);
                push(
                    "patch-replace",
                    timed(
                        self.scim(t, M::PATCH, &format!("/Users/{id}"))
                            .body(patch_body(&ops).to_string()),
                    )
                    .await,
                );
                let ops = json!([{"op": "Replace", "path": "active", "value": "False"}]);
                push(
                    "patch-disable",
                    timed(
                        self.scim(t, M::PATCH, &format!("/Users/{id}"))
                            .body(patch_body(&ops).to_string()),
                    )
                    .await,
                );
            }
            (Target::C, Op::Steady(id, round)) => {
                let path = format!("/users/{id}");
                push("get", timed(self.admin(M::GET, &path)).await);
                // Read, merge, write the whole representation (PUT replaces
                // the attribute map).
                for (kind, change) in [
                    (
                        "patch-replace",
                        json!({"firstName": format!("Given{round}"), "lastName": format!("Family{round}")}),
                    ),
                    ("patch-disable", json!({"enabled": false})),
                ] {
                    let (d1, r1) = timed(self.admin(M::GET, &path)).await;
                    let (d2, r2) = match r1 {
                        Ok(mut user) => {
                            for (k, v) in change.as_object().expect("object") {
                                user[k] = v.clone();
                            }
                            timed(self.admin(M::PUT, &path).json(&user)).await
                        }
                        Err(e) => (Duration::ZERO, Err(e)),
                    };
                    push(kind, (d1 + d2, r2));
                }
            }
            (Target::A | Target::B, Op::AddMember(gid, uid)) => {
                let ops = json!([{"op": "Add", "path": "members", "value": [{"value": uid}]}]);
                push(
                    "add-member",
                    timed(
                        self.scim(t, M::PATCH, &format!("/Groups/{gid}"))
                            .body(patch_body(&ops).to_string()),
                    )
                    .await,
                );
            }
            (Target::C, Op::AddMember(gid, uid)) => {
                push(
                    "add-member",
                    timed(self.admin(M::PUT, &format!("/users/{uid}/groups/{gid}"))).await,
                );
            }
            (Target::A | Target::B, Op::List(start)) => {
                let v = push(
                    "list-page",
                    timed(self.scim(
                        t,
                        M::GET,
                        &format!("/Users?startIndex={start}&count={PAGE}"),
                    ))
                    .await,
                );
                if let Some(v) = v {
                    let n = v["Resources"].as_array().map_or(0, Vec::len);
                    if n != PAGE {
                        eprintln!("{} list-page at {start}: {n} resources", t.label());
                    }
                }
            }
            (Target::C, Op::List(start)) => {
                // The count (SCIM's totalResults) and the page.
                let (d1, r1) = timed(self.admin(M::GET, "/users/count")).await;
                let (d2, r2) = timed(self.admin(
                    M::GET,
                    &format!(
                        "/users?briefRepresentation=false&first={}&max={PAGE}",
                        start - 1
                    ),
                ))
                .await;
                push("list-page", (d1 + d2, r1.and(r2)));
            }
        }
        Done { samples, created }
    }

    async fn create_group(&self, t: Target, name: &str) -> String {
        use reqwest::Method as M;
        let (_, r) = match t {
            Target::C => timed(self.admin(M::POST, "/groups").json(&json!({"name": name}))).await,
            _ => {
                timed(
                    self.scim(t, M::POST, "/Groups").body(
                        json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                           "displayName": name})
                        .to_string(),
                    ),
                )
                .await
            }
        };
        let v = r.unwrap_or_else(|e| panic!("{} group create: {e}", t.label()));
        v["id"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| {
                v["location"]
                    .as_str()
                    .and_then(|l| l.rsplit('/').next())
                    .map(str::to_owned)
            })
            .expect("group id")
    }
}

// ---------------------------------------------------------------- phases

/// Results of one phase (one workload, one target, one concurrency).
struct Phase {
    wall: Duration,
    by_kind: BTreeMap<&'static str, Vec<Duration>>,
    errors: BTreeMap<&'static str, usize>,
    created: Vec<String>,
    cpu_ms: Option<f64>,
    requests: usize,
}

/// Runs `ops` on `t` with `conc` workers; stops taking new ops after `bound`.
async fn run_phase(ctx: &Arc<Ctx>, t: Target, ops: Vec<Op>, conc: usize, bound: Duration) -> Phase {
    let ops = Arc::new(ops);
    let next = Arc::new(AtomicUsize::new(0));
    let t0 = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..conc {
        let (ctx, ops, next) = (ctx.clone(), ops.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut out = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= ops.len() || t0.elapsed() > bound {
                    return out;
                }
                out.push(ctx.exec(t, &ops[i]).await);
            }
        }));
    }
    let mut phase = Phase {
        wall: Duration::ZERO,
        by_kind: BTreeMap::new(),
        errors: BTreeMap::new(),
        created: Vec::new(),
        cpu_ms: None,
        requests: 0,
    };
    for w in workers {
        for done in w.await.expect("worker") {
            phase.created.extend(done.created);
            for s in done.samples {
                phase.requests += 1;
                if s.ok {
                    phase.by_kind.entry(s.kind).or_default().push(s.elapsed);
                } else {
                    *phase.errors.entry(s.kind).or_default() += 1;
                }
            }
        }
    }
    phase.wall = t0.elapsed();
    phase
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let idx = ((p * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[idx].as_secs_f64() * 1000.0
}

/// CPU time (user + system) of a process in milliseconds, from /proc.
fn cpu_ms(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on Linux.
    Some((utime + stime) * 10.0)
}

/// A `kB` line of /proc/<pid>/status, in MiB.
fn status_mib(pid: u32, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Resets the peak RSS (`VmHWM`) of a process we own.
fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

struct Row {
    workload: &'static str,
    kind: &'static str,
    conc: usize,
    /// per target: (ops/s, p50 ms, p99 ms, n, errors)
    cells: BTreeMap<Target, (f64, f64, f64, usize, usize)>,
    cpu_us_per_req: Option<f64>,
}

// ---------------------------------------------------------------- run

/// `run`: every workload × concurrency × target; prints the tables.
#[allow(clippy::cast_precision_loss)]
async fn run(args: &Args) -> bool {
    let kc = args.loopback("kc-url");
    let http = client();
    let admin = admin_token(&http, &kc).await;
    let realm_a = args.get("realm-a");
    let realm_b = args.get("realm-b");
    let token_b = refreshed_token(
        http.clone(),
        format!("{kc}/realms/{realm_b}/protocol/openid-connect/token"),
        vec![
            ("grant_type", "client_credentials".to_owned()),
            ("client_id", NATIVE_CLIENT.to_owned()),
            ("client_secret", NATIVE_SECRET.to_owned()),
        ],
    )
    .await;
    let ctx = Arc::new(Ctx {
        http: http.clone(),
        scim_a: format!("{}/realms/{realm_a}/scim/v2", args.loopback("scim-url")),
        token_a: args.get("token-a"),
        scim_b: format!("{kc}/realms/{realm_b}/scim/v2"),
        token_b,
        realm_a: realm_a.clone(),
        admin,
        kc: kc.clone(),
    });
    let pid: Option<u32> = args.0.get("sidecar-pid").and_then(|p| p.parse().ok());
    let concs: Vec<usize> = args
        .or("concurrency", "1,8,32")
        .split(',')
        .map(|c| c.trim().parse().expect("concurrency list"))
        .collect();
    let n_sync = args.num("sync", 200);
    let n_groups = args.num("groups", 200);
    let n_list = args.num("list", 200);
    let seeded = args.num("seeded", 10_000);
    let bound = Duration::from_secs(args.num("phase-secs", 90) as u64);
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..6].to_owned();
    let t_start = Instant::now();

    // Warm-up: connections, caches, JIT — not measured.
    for t in TARGETS {
        let ops: Vec<Op> = (0..10)
            .map(|i| Op::Sync(format!("{run_id}-w{}-{i}", t.label())))
            .collect();
        let p = run_phase(&ctx, t, ops, 2, bound).await;
        let steady: Vec<Op> = p
            .created
            .iter()
            .map(|id| Op::Steady(id.clone(), 0))
            .collect();
        run_phase(&ctx, t, steady, 2, bound).await;
        let list: Vec<Op> = (0..10).map(|i| Op::List(1 + i * 97)).collect();
        run_phase(&ctx, t, list, 2, bound).await;
    }

    let calls = match calibrate(args, &ctx, &run_id).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("call-count run failed: {e}");
            BTreeMap::new()
        }
    };

    let mut rows: Vec<Row> = Vec::new();
    let mut resources: Vec<String> = Vec::new();
    let mut rng = Lcg(0x9e37_79b9_7f4a_7c15);
    for &conc in &concs {
        if let Some(pid) = pid {
            if !reset_peak(pid) {
                eprintln!("cannot reset VmHWM of pid {pid}; peak RSS is since start");
            }
        }
        let cpu0 = pid.and_then(cpu_ms);
        let mut a_requests = 0;
        // sync, then steady on the users the same phase created
        let mut created: BTreeMap<Target, Vec<String>> = BTreeMap::new();
        let mut phases: Vec<(&'static str, BTreeMap<Target, Phase>)> = Vec::new();
        let mut per_target = BTreeMap::new();
        for t in TARGETS {
            let ops = (0..n_sync)
                .map(|i| Op::Sync(format!("{run_id}-{}{conc}-{i}", t.label())))
                .collect();
            let p = measured(&ctx, t, ops, conc, bound, pid).await;
            created.insert(t, p.created.clone());
            per_target.insert(t, p);
        }
        phases.push(("sync", per_target));
        let mut per_target = BTreeMap::new();
        for t in TARGETS {
            let ops = created[&t]
                .iter()
                .map(|id| Op::Steady(id.clone(), conc))
                .collect();
            per_target.insert(t, measured(&ctx, t, ops, conc, bound, pid).await);
        }
        phases.push(("steady", per_target));
        let mut per_target = BTreeMap::new();
        for t in TARGETS {
            let gid = ctx
                .create_group(t, &format!("bench-{run_id}-{}{conc}", t.label()))
                .await;
            let ops = created[&t]
                .iter()
                .take(n_groups)
                .map(|uid| Op::AddMember(gid.clone(), uid.clone()))
                .collect();
            per_target.insert(t, measured(&ctx, t, ops, conc, bound, pid).await);
        }
        phases.push(("groups", per_target));
        let starts: Vec<usize> = (0..n_list)
            .map(|_| 1 + rng.below(seeded.saturating_sub(PAGE).max(1)))
            .collect();
        let mut per_target = BTreeMap::new();
        for t in TARGETS {
            let ops = starts.iter().map(|&s| Op::List(s)).collect();
            per_target.insert(t, measured(&ctx, t, ops, conc, bound, pid).await);
        }
        phases.push(("list", per_target));

        for (workload, per_target) in &phases {
            let kinds: Vec<&'static str> = per_target[&Target::A]
                .by_kind
                .keys()
                .chain(per_target[&Target::A].errors.keys())
                .copied()
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            let a = &per_target[&Target::A];
            a_requests += a.requests;
            for kind in kinds {
                let mut cells = BTreeMap::new();
                for (t, p) in per_target {
                    let mut v = p.by_kind.get(kind).cloned().unwrap_or_default();
                    v.sort();
                    let errors = p.errors.get(kind).copied().unwrap_or(0);
                    cells.insert(
                        *t,
                        (
                            v.len() as f64 / p.wall.as_secs_f64(),
                            percentile(&v, 0.50),
                            percentile(&v, 0.99),
                            v.len(),
                            errors,
                        ),
                    );
                }
                rows.push(Row {
                    workload,
                    kind,
                    conc,
                    cells,
                    cpu_us_per_req: a.cpu_ms.map(|ms| ms * 1000.0 / a.requests.max(1) as f64),
                });
            }
        }
        if let Some(pid) = pid {
            let cpu = cpu0.zip(cpu_ms(pid)).map(|(x, y)| y - x);
            resources.push(format!(
                "| {conc} | {} | {} | {} | {} |",
                a_requests,
                cpu.map_or("–".into(), |c| format!("{c:.0}")),
                cpu.map_or("–".into(), |c| format!(
                    "{:.0}",
                    c * 1000.0 / a_requests.max(1) as f64
                )),
                status_mib(pid, "VmHWM:").map_or("–".into(), |m| format!("{m:.1}")),
            ));
        }
    }

    let report = render(&rows, &resources, &calls, t_start.elapsed());
    println!("{report}");
    if let Some(out) = args.0.get("out") {
        std::fs::write(out, &report).expect("write report");
        eprintln!("report written to {out}");
    }
    rows.iter()
        .all(|r| r.cells.get(&Target::A).is_some_and(|c| c.4 == 0))
}

async fn measured(
    ctx: &Arc<Ctx>,
    t: Target,
    ops: Vec<Op>,
    conc: usize,
    bound: Duration,
    pid: Option<u32>,
) -> Phase {
    let before = if t == Target::A {
        pid.and_then(cpu_ms)
    } else {
        None
    };
    let mut p = run_phase(ctx, t, ops, conc, bound).await;
    if let (Some(b), Some(pid)) = (before, pid) {
        p.cpu_ms = cpu_ms(pid).map(|a| a - b);
    }
    p
}

/// Tiny deterministic generator for list start indexes.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        #[allow(clippy::cast_possible_truncation)]
        let x = (self.0 >> 33) as usize;
        x % n
    }
}

fn fmt(x: f64, digits: usize) -> String {
    if x.is_nan() {
        "–".to_owned()
    } else {
        format!("{x:.digits$}")
    }
}

fn render(
    rows: &[Row],
    resources: &[String],
    calls: &BTreeMap<&'static str, (f64, f64)>,
    took: Duration,
) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Run took {:.0} s. Throughput: completed requests of that kind per second of the phase.\n\
         Latency in ms. a = kc-scim, b = Keycloak SCIM API, c = raw Admin API.\n",
        took.as_secs_f64()
    );
    let _ = writeln!(
        s,
        "| workload | request | conc | a req/s | a p50 | a p99 | b req/s | b p50 | b p99 | c req/s | c p50 | c p99 | a/b thr | a/c thr | a−c p50 | errors a/b/c |"
    );
    let _ = writeln!(
        s,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    );
    for r in rows {
        let cell = |t: Target| {
            r.cells
                .get(&t)
                .copied()
                .unwrap_or((f64::NAN, f64::NAN, f64::NAN, 0, 0))
        };
        let (a, b, c) = (cell(Target::A), cell(Target::B), cell(Target::C));
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {} | {}/{}/{} |",
            r.workload,
            r.kind,
            r.conc,
            fmt(a.0, 1),
            fmt(a.1, 1),
            fmt(a.2, 1),
            fmt(b.0, 1),
            fmt(b.1, 1),
            fmt(b.2, 1),
            fmt(c.0, 1),
            fmt(c.1, 1),
            fmt(c.2, 1),
            fmt(a.0 / b.0, 2),
            fmt(a.0 / c.0, 2),
            fmt(a.1 - c.1, 1),
            a.4,
            b.4,
            c.4
        );
    }
    let _ = writeln!(
        s,
        "\nSidecar CPU per request (µs, kc-scim process, from /proc/<pid>/stat; the kernel counts in 10 ms ticks):\n"
    );
    let _ = writeln!(
        s,
        "| workload | request | conc | CPU µs / request (whole phase) |"
    );
    let _ = writeln!(s, "|---|---|---:|---:|");
    let mut seen = std::collections::BTreeSet::new();
    for r in rows {
        if seen.insert((r.workload, r.conc)) {
            let _ = writeln!(
                s,
                "| {} | all | {} | {} |",
                r.workload,
                r.conc,
                r.cpu_us_per_req.map_or("–".into(), |c| fmt(c, 0))
            );
        }
    }
    let _ = writeln!(
        s,
        "\nSidecar resources per concurrency level (peak RSS = VmHWM, reset at the start of each level):\n"
    );
    let _ = writeln!(
        s,
        "| conc | kc-scim requests | CPU ms | CPU µs / request | peak RSS MiB |"
    );
    let _ = writeln!(s, "|---:|---:|---:|---:|---:|");
    for line in resources {
        let _ = writeln!(s, "{line}");
    }
    let _ = writeln!(
        s,
        "\nKeycloak Admin API calls per SCIM request of kc-scim (in-process server, warm caches, concurrency 1; c's count for comparison):\n"
    );
    let _ = writeln!(
        s,
        "| request | kc-scim calls (mean) | kc-scim writes (mean) | c calls |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|");
    for (kind, (calls, writes)) in calls {
        let raw = match *kind {
            "lookup-miss" | "get" | "add-member" => "1",
            _ => "2",
        };
        let _ = writeln!(
            s,
            "| {kind} | {} | {} | {raw} |",
            fmt(*calls, 2),
            fmt(*writes, 2)
        );
    }
    s
}

// ---------------------------------------------------------------- call counts

/// Keycloak calls per SCIM request, measured on an in-process kc-scim built
/// from the library against the same Keycloak and realm.
#[allow(clippy::cast_precision_loss)]
async fn calibrate(
    args: &Args,
    ctx: &Arc<Ctx>,
    run_id: &str,
) -> Result<BTreeMap<&'static str, (f64, f64)>, String> {
    let env = vec![
        ("KCSCIM_KEYCLOAK__URL".to_owned(), ctx.kc.clone()),
        (
            "KCSCIM_KEYCLOAK__USERNAME".to_owned(),
            std::env::var("KC_ADMIN_USER").unwrap_or("admin".into()),
        ),
        (
            "KCSCIM_KEYCLOAK__PASSWORD".to_owned(),
            std::env::var("KC_ADMIN_PASSWORD").unwrap_or("admin".into()),
        ),
        ("KCSCIM_HTTP__BIND".to_owned(), "127.0.0.1:0".to_owned()),
        ("KCSCIM_HTTP__WORKERS".to_owned(), "1".to_owned()),
    ];
    let settings = kc_scim::config::Settings::load_from(None, env).map_err(|e| e.to_string())?;
    let app = kc_scim::startup::Application::build(&settings)
        .await
        .map_err(|e| format!("{e:#}"))?;
    let port = app.port();
    let directory = app.directory();
    tokio::spawn(app.run_until_stopped());
    let local = Arc::new(Ctx {
        http: ctx.http.clone(),
        kc: ctx.kc.clone(),
        scim_a: format!("http://127.0.0.1:{port}/realms/{}/scim/v2", ctx.realm_a),
        token_a: ctx.token_a.clone(),
        scim_b: ctx.scim_b.clone(),
        token_b: ctx.token_b.clone(),
        realm_a: ctx.realm_a.clone(),
        admin: ctx.admin.clone(),
    });
    let stats = directory.admin().stats().clone();
    let n = args.num("calibrate", 20);
    let mut totals: BTreeMap<&'static str, (u64, u64, usize)> = BTreeMap::new();
    let gid = local
        .create_group(Target::A, &format!("bench-{run_id}-calls"))
        .await;
    // Warm the realm caches first.
    local
        .exec(Target::A, &Op::Sync(format!("{run_id}-cal-warm")))
        .await;
    let mut ids = Vec::new();
    let span = args.num("seeded", 10_000).saturating_sub(PAGE).max(1);
    for i in 0..n {
        let ops = [
            Op::Sync(format!("{run_id}-cal-{i}")),
            Op::List(1 + (i * 37) % span),
        ];
        for op in ops {
            let (c0, w0) = (stats.calls(), stats.writes());
            let done = local.exec(Target::A, &op).await;
            let (c1, w1) = (stats.calls(), stats.writes());
            // Both requests of a sync op are counted together; split below.
            let key = match op {
                Op::Sync(_) => "sync",
                _ => "list-page",
            };
            let e = totals.entry(key).or_default();
            e.0 += c1 - c0;
            e.1 += w1 - w0;
            e.2 += 1;
            ids.extend(done.created);
        }
    }
    // lookup-miss alone, so that create = sync − lookup.
    for i in 0..n {
        let f = enc(&format!("externalId eq \"ext-{run_id}-none-{i}\""));
        let (c0, w0) = (stats.calls(), stats.writes());
        let (_, r) = timed(local.scim(
            Target::A,
            reqwest::Method::GET,
            &format!("/Users?filter={f}"),
        ))
        .await;
        r?;
        let e = totals.entry("lookup-miss").or_default();
        e.0 += stats.calls() - c0;
        e.1 += stats.writes() - w0;
        e.2 += 1;
    }
    for id in &ids {
        // get, patch-replace, patch-disable one by one
        use reqwest::Method as M;
        let reqs: [(&'static str, reqwest::RequestBuilder); 4] = [
            ("get", local.scim(Target::A, M::GET, &format!("/Users/{id}"))),
            (
                "patch-replace",
                local.scim(Target::A, M::PATCH, &format!("/Users/{id}")).body(
                    patch_body(&json!([{"op": "Replace", "path": "name.givenName", "value": "X"},
                                        {"op": "Replace", "path": "name.familyName", "value": "Y"}]))
                    .to_string(),
                ),
            ),
            (
                "patch-disable",
                local.scim(Target::A, M::PATCH, &format!("/Users/{id}")).body(
                    patch_body(&json!([{"op": "Replace", "path": "active", "value": "False"}]))
                        .to_string(),
                ),
            ),
            (
                "add-member",
                local.scim(Target::A, M::PATCH, &format!("/Groups/{gid}")).body(
                    patch_body(&json!([{"op": "Add", "path": "members", "value": [{"value": id}]}]))
                        .to_string(),
                ),
            ),
        ];
        for (kind, req) in reqs {
            let (c0, w0) = (stats.calls(), stats.writes());
            let (_, r) = timed(req).await;
            r?;
            let e = totals.entry(kind).or_default();
            e.0 += stats.calls() - c0;
            e.1 += stats.writes() - w0;
            e.2 += 1;
        }
    }
    let mean =
        |(c, w, k): (u64, u64, usize)| (c as f64 / k.max(1) as f64, w as f64 / k.max(1) as f64);
    let mut out: BTreeMap<&'static str, (f64, f64)> = totals
        .iter()
        .filter(|(k, _)| **k != "sync")
        .map(|(k, v)| (*k, mean(*v)))
        .collect();
    if let (Some(sync), Some(miss)) = (totals.get("sync"), out.get("lookup-miss").copied()) {
        let (c, w) = mean(*sync);
        out.insert("create", (c - miss.0, w - miss.1));
    }
    Ok(out)
}

// ---------------------------------------------------------------- users2000

/// Checks one reply: status and body.
type Check = Box<dyn Fn(u16, &Value) -> Result<(), String>>;

/// One timed request of `users2000` and its check.
struct Case {
    name: String,
    query: String,
    check: Check,
}

/// `users2000`: list pages and filtered lookups on a realm seeded with
/// `--seeded` users (prefix `--prefix`), with correctness checks.
#[allow(clippy::cast_precision_loss)]
async fn users2000(args: &Args) -> bool {
    let base = format!(
        "{}/realms/{}/scim/v2",
        args.loopback("scim-url"),
        args.get("realm")
    );
    let token = args.get("token");
    let seeded = args.num("seeded", 2000);
    let prefix = args.or("prefix", "seed");
    let reps = args.num("reps", 50);
    let http = client();
    let probe = 1234.min(seeded - 1);
    let user = format!("{prefix}{probe:05}");
    let page = |start: usize| {
        let expect = seeded.saturating_sub(start - 1).min(PAGE);
        Case {
            name: format!("page startIndex={start} count={PAGE}"),
            query: format!("/Users?startIndex={start}&count={PAGE}"),
            check: Box::new(move |status, v| {
                let total = v["totalResults"].as_u64().unwrap_or(0);
                let n = v["Resources"].as_array().map_or(0, Vec::len);
                if status == 200 && total == seeded as u64 && n == expect {
                    Ok(())
                } else {
                    Err(format!(
                        "{status}: totalResults {total}, {n} resources (want {seeded}, {expect})"
                    ))
                }
            }),
        }
    };
    let one = |name: &str, filter: String, user: String| Case {
        name: format!("{name}: {filter}"),
        query: format!("/Users?filter={}", enc(&filter)),
        check: Box::new(move |status, v| {
            let total = v["totalResults"].as_u64().unwrap_or(0);
            let found = v["Resources"][0]["userName"].as_str().unwrap_or("");
            if status == 200
                && total == 1
                && found.eq_ignore_ascii_case(&format!("{user}@contoso.com"))
            {
                Ok(())
            } else {
                Err(format!(
                    "{status}: totalResults {total}, userName {found:?}"
                ))
            }
        }),
    };
    let sw = format!("Fam{:04}", probe / 10);
    let cases = vec![
        page(1),
        page(1000),
        page(1990),
        one(
            "userName",
            format!("userName eq \"{user}@Contoso.com\""),
            user.clone(),
        ),
        one(
            "externalId",
            format!("externalId eq \"ext-{user}\""),
            user.clone(),
        ),
        one(
            "email",
            format!("emails[type eq \"work\"].value eq \"{user}@mail.contoso.com\""),
            user.clone(),
        ),
        Case {
            name: format!("not pushable: name.familyName sw \"{sw}\""),
            query: format!(
                "/Users?filter={}",
                enc(&format!("name.familyName sw \"{sw}\""))
            ),
            check: Box::new(move |status, v| {
                let total = v["totalResults"].as_u64().unwrap_or(0);
                if (status == 200 && total == 10) || (status == 400 && v["scimType"] == "tooMany") {
                    Ok(())
                } else {
                    Err(format!(
                        "{status}: {}",
                        v.to_string().chars().take(200).collect::<String>()
                    ))
                }
            }),
        },
    ];
    let mut ok = true;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Realm of {seeded} users, {reps} requests per case, concurrency 1.\n\n\
         | case | status | check | p50 ms | p99 ms |\n|---|---:|---|---:|---:|"
    );
    for case in cases {
        let mut times = Vec::new();
        let mut verdict = Ok(());
        let mut last_status = 0;
        for _ in 0..reps {
            let t0 = Instant::now();
            let r = http
                .get(format!("{base}{}", case.query))
                .bearer_auth(&token)
                .send()
                .await
                .expect("request sent");
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            times.push(t0.elapsed());
            last_status = status;
            if let Err(e) = (case.check)(status, &body) {
                verdict = Err(e);
            }
        }
        times.sort();
        ok &= verdict.is_ok();
        let _ = writeln!(
            s,
            "| {} | {last_status} | {} | {:.1} | {:.1} |",
            case.name.replace('|', "\\|"),
            verdict
                .err()
                .map_or("ok".to_owned(), |e| format!("FAIL {e}")),
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
    println!("{s}");
    if let Some(out) = args.0.get("out") {
        std::fs::write(out, &s).expect("write report");
    }
    ok
}
