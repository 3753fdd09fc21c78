//! The three targets and what one operation of each workload sends to them:
//! `a` kc-scim, `b` Keycloak's own SCIM API, `c` the raw Admin API calls a
//! perfect translator would make on the realm kc-scim serves.
//!
//! Invariant: an operation is the same Entra-shaped request for a and b, and
//! c times every Admin API call the same SCIM response would need (a create
//! is POST + GET, a PATCH is GET + PUT, a page is count + page), so the three
//! latencies of one operation compare like for like.

use std::time::{Duration, Instant};

use reqwest::Method as M;
use serde_json::{json, Value};

use crate::tokens::Token;

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Users per list page.
pub(crate) const PAGE: usize = 100;

/// One of the systems under test.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub(crate) enum Target {
    /// kc-scim.
    A,
    /// Keycloak's own SCIM API.
    B,
    /// Raw Admin API calls.
    C,
}

/// Every target, in the order of a row.
pub(crate) const TARGETS: [Target; 3] = [Target::A, Target::B, Target::C];

impl Target {
    /// The letter used in reports and logs.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Target::A => "a",
            Target::B => "b",
            Target::C => "c",
        }
    }
}

/// Where the targets are and the credentials for each.
pub(crate) struct Ctx {
    pub(crate) http: reqwest::Client,
    pub(crate) kc: String,
    /// kc-scim's SCIM base of realm a.
    pub(crate) scim_a: String,
    pub(crate) token_a: String,
    /// Keycloak's SCIM base of realm b.
    pub(crate) scim_b: String,
    pub(crate) token_b: Token,
    pub(crate) realm_a: String,
    pub(crate) admin: Token,
}

/// One timed request (or, for target c, the calls of one operation).
pub(crate) struct Sample {
    pub(crate) kind: &'static str,
    pub(crate) elapsed: Duration,
    pub(crate) ok: bool,
}

/// One operation of a workload.
#[derive(Clone)]
pub(crate) enum Op {
    /// `externalId eq` miss, then create.
    Sync(String),
    /// get, PATCH replace name, PATCH active false on a user id.
    Steady(String, usize),
    /// add one member (user id) to a group (group id).
    AddMember(String, String),
    /// one page from a 1-based start index.
    List(usize),
}

/// What one operation produced.
pub(crate) struct Done {
    pub(crate) samples: Vec<Sample>,
    /// The id of the user a sync created.
    pub(crate) created: Option<String>,
}

/// Sends `req` and times it until the whole body is read. A success body
/// that is not JSON becomes `{"location": …}` when a Location header came.
pub(crate) async fn timed(req: reqwest::RequestBuilder) -> (Duration, Result<Value, String>) {
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

/// A SCIM PATCH request body.
pub(crate) fn patch_body(ops: &Value) -> Value {
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

/// Form-URL-encodes a query parameter value.
pub(crate) fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// The last path segment of a `{"location": …}` reply: the new resource's id.
fn location_id(v: &Value) -> Option<String> {
    v["location"]
        .as_str()
        .and_then(|l| l.rsplit('/').next())
        .map(str::to_owned)
}

impl Ctx {
    /// The context of a step that measures kc-scim (target a) and the raw
    /// Admin API only: `scim_url` serves `realm`; target b is not used.
    pub(crate) fn without_b(
        http: &reqwest::Client,
        kc_url: &str,
        scim_url: &str,
        realm: &str,
        token: &str,
        admin: &Token,
    ) -> Self {
        Self {
            http: http.clone(),
            kc: kc_url.to_owned(),
            scim_a: format!("{scim_url}/realms/{realm}/scim/v2"),
            token_a: token.to_owned(),
            scim_b: String::new(),
            token_b: admin.clone(),
            realm_a: realm.to_owned(),
            admin: admin.clone(),
        }
    }

    /// A SCIM request to target a or b, with its bearer token.
    pub(crate) fn scim(&self, t: Target, method: M, path: &str) -> reqwest::RequestBuilder {
        let (base, token) = match t {
            Target::A => (&self.scim_a, self.token_a.clone()),
            _ => (&self.scim_b, self.token_b.get()),
        };
        self.http
            .request(method, format!("{base}{path}"))
            .bearer_auth(token)
            .header("Content-Type", "application/scim+json")
    }

    /// An Admin API request on realm a, with the admin token.
    pub(crate) fn admin(&self, method: M, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(
                method,
                format!("{}/admin/realms/{}{path}", self.kc, self.realm_a),
            )
            .bearer_auth(self.admin.get())
    }

    /// Runs one operation on one target; failures are logged and counted,
    /// never fatal.
    pub(crate) async fn exec(&self, t: Target, op: &Op) -> Done {
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
                // exact=true and the page size kc-scim sends: with max=2 the
                // search took 8 times as long on 100,000 users on PostgreSQL.
                let q = enc(&format!("externalId:ext-{n}"));
                push(
                    "lookup-miss",
                    timed(self.admin(
                        M::GET,
                        &format!(
                            "/users?briefRepresentation=false&first=0&max=500&exact=true&q={q}"
                        ),
                    ))
                    .await,
                );
                // POST, then GET the created user: a SCIM response carries
                // the whole resource with its server-set parts.
                let (d1, r1) = timed(self.admin(M::POST, "/users").json(&kc_user(n))).await;
                let id = r1.as_ref().ok().and_then(location_id);
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
                // What kc-scim writes for the same PATCH: the name and the
                // attributes the default mappers keep it in.
                let replace = [
                    ("firstName", json!(format!("Given{round}"))),
                    ("lastName", json!(format!("Family{round}"))),
                ];
                let replace_attributes = [
                    ("givenName", json!([format!("Given{round}")])),
                    ("surName", json!([format!("Family{round}")])),
                ];
                let disable = [("enabled", json!(false))];
                for (kind, change, attributes) in [
                    ("patch-replace", &replace[..], &replace_attributes[..]),
                    ("patch-disable", &disable[..], &[][..]),
                ] {
                    let (d1, r1) = timed(self.admin(M::GET, &path)).await;
                    let (d2, r2) = match r1 {
                        Ok(mut user) => {
                            for (k, v) in change {
                                user[*k] = v.clone();
                            }
                            for (k, v) in attributes {
                                user["attributes"][*k] = v.clone();
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
                        start.saturating_sub(1)
                    ),
                ))
                .await;
                push("list-page", (d1 + d2, r1.and(r2)));
            }
        }
        Done { samples, created }
    }

    /// Creates a group on `t` (not timed) and returns its id.
    pub(crate) async fn create_group(&self, t: Target, name: &str) -> anyhow::Result<String> {
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
        let v = r.map_err(|e| anyhow::anyhow!("{} group create: {e}", t.label()))?;
        v["id"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| location_id(&v))
            .ok_or_else(|| anyhow::anyhow!("{} group create: no id in the reply", t.label()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entra_body_and_kc_representation_describe_the_same_user() {
        let (scim, kc) = (entra_user("r1-a1-0"), kc_user("r1-a1-0"));
        assert_eq!(scim["externalId"], kc["attributes"]["externalId"][0]);
        assert_eq!(scim["userName"], kc["attributes"]["userPrincipalName"][0]);
        assert_eq!(
            scim["userName"].as_str().map(str::to_lowercase).as_deref(),
            kc["username"].as_str()
        );
        assert_eq!(scim["emails"][0]["value"], kc["email"]);
        assert_eq!(scim["name"]["givenName"], kc["firstName"]);
        assert_eq!(scim["name"]["familyName"], kc["lastName"]);
    }

    #[test]
    fn location_id_is_the_last_path_segment() {
        let v = json!({"location": "http://127.0.0.1:1/admin/realms/r/users/abc-123"});
        assert_eq!(location_id(&v).as_deref(), Some("abc-123"));
        assert_eq!(location_id(&json!({"id": "x"})), None);
    }

    #[test]
    fn filter_values_are_form_encoded() {
        assert_eq!(enc("externalId eq \"a&b\""), "externalId+eq+%22a%26b%22");
    }

    #[test]
    fn patch_body_names_the_patch_op_schema() {
        let body = patch_body(&json!([]));
        assert_eq!(body["schemas"][0], PATCH_OP);
        assert_eq!(body["Operations"], json!([]));
    }
}
