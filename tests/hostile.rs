//! Hostile requests against a real Keycloak: malformed and oversized bodies,
//! deep nesting, invalid UTF-8 and NUL bytes, filter and PATCH-path values
//! aimed at Keycloak's query parameters, header abuse, unknown methods and
//! path traversal in ids. Each is sent as raw bytes on its own connection
//! and must be answered within a bound with a 4xx — never a 5xx, never a
//! hang — and the realm's users and groups must be exactly as before.
//!
//! Every row of the table names what it expects:
//! - [`Expect::Scim`]: a 4xx (or exactly the given status) with an RFC 7644
//!   error body and `Content-Type: application/scim+json`;
//! - [`Expect::NoMatch`]: a well-formed SCIM query whose *values* are
//!   hostile; answering it is correct, so it must be a 200 with an empty
//!   `ListResponse` (the hostile value widened no Keycloak query) or a SCIM 400;
//! - [`Expect::Transport`]: refused by actix-web's HTTP/1.1 parser before any
//!   SCIM code runs, so the body is actix's own; the reason is in the row.

mod common;

use std::fmt::Write as _;
use std::io::Write as _;
use std::time::{Duration, Instant};

use common::{spawn_app, TestApp};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Bound on one hostile request, from connect to the end of its response.
const CASE_TIMEOUT: Duration = Duration::from_secs(20);
const USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

#[derive(Debug, Clone, Copy)]
enum Expect {
    /// A SCIM error: any 4xx when `None`, else exactly this status.
    Scim(Option<u16>),
    /// 200 with an empty list, or a SCIM 400.
    NoMatch,
    /// A 4xx from actix-web's HTTP layer, body not SCIM; the reason.
    Transport(&'static str),
}

struct Case {
    name: String,
    raw: Vec<u8>,
    /// Close our sending side after the request (the body is shorter than
    /// announced, so only EOF ends it).
    half_close: bool,
    expect: Expect,
}

/// Builds the raw requests of one realm.
struct Raw<'a> {
    realm: &'a str,
    token: &'a str,
}

impl Raw<'_> {
    fn path(&self, p: &str) -> String {
        format!("/realms/{}/scim/v2{p}", self.realm)
    }

    /// A request with the realm's bearer, `Content-Length` for the body, and
    /// `extra` headers, as bytes.
    fn request(&self, method: &str, path: &str, extra: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n",
            path = self.path(path)
        );
        if !extra
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        {
            let _ = write!(head, "Authorization: Bearer {}\r\n", self.token);
        }
        if !extra.iter().any(|(k, _)| {
            k.eq_ignore_ascii_case("content-length") || k.eq_ignore_ascii_case("transfer-encoding")
        }) && (!body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH"))
        {
            let _ = write!(head, "Content-Length: {}\r\n", body.len());
        }
        for (k, v) in extra {
            let _ = write!(head, "{k}: {v}\r\n");
        }
        head.push_str("\r\n");
        let mut out = head.into_bytes();
        out.extend_from_slice(body);
        out
    }

    /// A JSON request (`application/scim+json`).
    fn json(&self, method: &str, path: &str, body: &[u8]) -> Vec<u8> {
        self.request(
            method,
            path,
            &[("Content-Type", "application/scim+json")],
            body,
        )
    }

    fn get(&self, path: &str) -> Vec<u8> {
        self.request("GET", path, &[], b"")
    }
}

fn case(name: impl Into<String>, raw: Vec<u8>, expect: Expect) -> Case {
    Case {
        name: name.into(),
        raw,
        half_close: false,
        expect,
    }
}

fn query(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

fn nested(open: &str, inner: &str, close: &str, depth: usize) -> String {
    format!("{}{inner}{}", open.repeat(depth), close.repeat(depth))
}

fn patch(ops: &Value) -> Vec<u8> {
    json!({"schemas": [PATCH_OP], "Operations": ops})
        .to_string()
        .into_bytes()
}

fn user(name: &str) -> Value {
    json!({"schemas": [USER], "userName": name, "active": true})
}

/// `raw` with the first `marker` replaced by `bytes` (bytes no `&str` can hold).
fn splice(mut raw: Vec<u8>, marker: &[u8], bytes: &[u8]) -> Vec<u8> {
    let at = raw
        .windows(marker.len())
        .position(|w| w == marker)
        .expect("marker present");
    raw.splice(at..at + marker.len(), bytes.iter().copied());
    raw
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).expect("gzip");
    enc.finish().expect("gzip")
}

/// Every hostile request. `victim` is an existing user, `group` an existing group.
#[allow(clippy::vec_init_then_push)]
fn table(raw: &Raw<'_>, victim: &str, group: &str) -> Vec<Case> {
    use Expect::{NoMatch, Scim, Transport};
    let any = Scim(None);
    let bad = Scim(Some(400));
    let victim_path = format!("/Users/{victim}");
    let group_path = format!("/Groups/{group}");
    let mut t = Vec::new();

    // Malformed JSON on every endpoint that reads a body.
    let malformed: &[(&str, &[u8])] = &[
        ("open brace", b"{"),
        ("missing value", b"{\"userName\":}"),
        ("trailing comma", b"{\"userName\":\"a\",}"),
        ("single quotes", b"{'userName':'a'}"),
        ("trailing garbage", b"{\"userName\":\"tg\"} xyz"),
        ("empty body", b""),
        ("byte order mark", b"\xef\xbb\xbf{\"userName\":\"bom\"}"),
        ("comment", b"{/* c */\"userName\":\"c\"}"),
        ("NaN", b"{\"userName\":\"nan\",\"active\":NaN}"),
        (
            "number overflow",
            b"{\"userName\":\"num\",\"active\":1e999999}",
        ),
        ("unterminated string", b"{\"userName\":\"abc"),
        ("raw control character", b"{\"userName\":\"a\x01b\"}"),
        ("lone surrogate", b"{\"userName\":\"\\ud800\"}"),
        ("bad escape", b"{\"userName\":\"\\q\"}"),
        ("JSON null", b"null"),
        ("JSON array", b"[]"),
        ("JSON string", b"\"userName\""),
        ("JSON number", b"42"),
    ];
    for (what, body) in malformed {
        t.push(case(
            format!("POST /Users: {what}"),
            raw.json("POST", "/Users", body),
            bad,
        ));
    }
    for (what, body) in &malformed[..6] {
        t.push(case(
            format!("PATCH /Users/id: {what}"),
            raw.json("PATCH", &victim_path, body),
            bad,
        ));
        t.push(case(
            format!("PUT /Users/id: {what}"),
            raw.json("PUT", &victim_path, body),
            bad,
        ));
    }
    for (what, body) in &malformed[..3] {
        t.push(case(
            format!("POST /Groups: {what}"),
            raw.json("POST", "/Groups", body),
            bad,
        ));
        t.push(case(
            format!("POST /Users/.search: {what}"),
            raw.json("POST", "/Users/.search", body),
            bad,
        ));
        t.push(case(
            format!("PATCH /Groups/id: {what}"),
            raw.json("PATCH", &group_path, body),
            bad,
        ));
    }

    // Deep nesting: serde_json's recursion limit, never a stack overflow.
    let deep_arrays = nested("[", "", "]", 10_000);
    let deep_objects = nested("{\"a\":", "1", "}", 10_000);
    t.push(case(
        "POST /Users: 10,000 nested arrays",
        raw.json("POST", "/Users", deep_arrays.as_bytes()),
        bad,
    ));
    t.push(case(
        "POST /Users: 10,000 nested objects",
        raw.json("POST", "/Users", deep_objects.as_bytes()),
        bad,
    ));
    t.push(case(
        "POST /Users: attribute nested 10,000 deep",
        raw.json(
            "POST",
            "/Users",
            format!("{{\"schemas\":[\"{USER}\"],\"userName\":\"deep\",\"name\":{deep_objects}}}")
                .as_bytes(),
        ),
        bad,
    ));
    t.push(case(
        "PATCH: value nested 10,000 deep",
        raw.json(
            "PATCH",
            &victim_path,
            format!(
                "{{\"schemas\":[\"{PATCH_OP}\"],\"Operations\":[{{\"op\":\"add\",\"path\":\"displayName\",\"value\":{deep_arrays}}}]}}"
            )
            .as_bytes(),
        ),
        bad,
    ));
    t.push(case(
        "POST /Users/.search: 10,000 nested arrays",
        raw.json("POST", "/Users/.search", deep_arrays.as_bytes()),
        bad,
    ));
    t.push(case(
        "POST /Groups: members nested 10,000 deep",
        raw.json(
            "POST",
            "/Groups",
            format!("{{\"displayName\":\"deep\",\"members\":{deep_arrays}}}").as_bytes(),
        ),
        bad,
    ));

    // Huge strings in attributes Keycloak bounds (255 characters).
    let huge = "h".repeat(600_000);
    t.push(case(
        "POST /Users: userName of 600,000 characters",
        raw.json("POST", "/Users", user(&huge).to_string().as_bytes()),
        any,
    ));
    let mut long_given = user("long_given@example.com");
    long_given["name"] = json!({"givenName": "g".repeat(100_000)});
    t.push(case(
        "POST /Users: givenName of 100,000 characters",
        raw.json("POST", "/Users", long_given.to_string().as_bytes()),
        any,
    ));
    let mut long_mail = user("long_mail@example.com");
    long_mail["emails"] =
        json!([{"value": format!("{}@example.com", "m".repeat(100_000)), "primary": true}]);
    t.push(case(
        "POST /Users: email of 100,000 characters",
        raw.json("POST", "/Users", long_mail.to_string().as_bytes()),
        any,
    ));
    t.push(case(
        "POST /Groups: displayName of 100,000 characters",
        raw.json(
            "POST",
            "/Groups",
            json!({"displayName": "d".repeat(100_000)})
                .to_string()
                .as_bytes(),
        ),
        any,
    ));
    t.push(case(
        "PATCH: givenName of 100,000 characters",
        raw.json(
            "PATCH",
            &victim_path,
            &patch(
                &json!([{"op": "replace", "path": "name.givenName", "value": "g".repeat(100_000)}]),
            ),
        ),
        any,
    ));
    t.push(case(
        "POST /Users/.search: userName filter value of 500,000 characters",
        raw.json(
            "POST",
            "/Users/.search",
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                   "filter": format!("userName eq \"{}\"", "u".repeat(500_000))})
            .to_string()
            .as_bytes(),
        ),
        NoMatch,
    ));
    t.push(case(
        "POST /Users/.search: externalId filter value of 500,000 characters",
        raw.json(
            "POST",
            "/Users/.search",
            json!({"filter": format!("externalId eq \"{}\"", "e".repeat(500_000))})
                .to_string()
                .as_bytes(),
        ),
        NoMatch,
    ));

    // Invalid UTF-8.
    t.push(case(
        "POST /Users: invalid UTF-8 in a string",
        raw.json("POST", "/Users", b"{\"userName\":\"\xff\xfe\xfd\"}"),
        bad,
    ));
    t.push(case(
        "PATCH: invalid UTF-8 in a value",
        splice(
            raw.json(
                "PATCH",
                &victim_path,
                &patch(&json!([{"op": "replace", "path": "displayName", "value": "MARK"}])),
            ),
            b"MARK",
            b"\xff\xfe\xfd\xfc",
        ),
        bad,
    ));
    t.push(case(
        "GET: percent-encoded invalid UTF-8 in a filter",
        raw.get("/Users?filter=userName%20eq%20%22%FF%FE%22"),
        NoMatch,
    ));
    t.push(case(
        "GET: percent-encoded invalid UTF-8 in an id",
        raw.get("/Users/%FF%FE%FD"),
        Scim(Some(404)),
    ));
    t.push(case(
        "GET: invalid UTF-8 in the Authorization header",
        splice(
            raw.request("GET", "/Users", &[("Authorization", "Bearer MARK")], b""),
            b"MARK",
            b"\xff\xfe",
        ),
        Scim(Some(401)),
    ));
    t.push(case(
        "GET: raw invalid UTF-8 bytes in the path",
        splice(raw.get("/Users/MARK"), b"MARK", b"\xff\xfe"),
        Transport("httparse refuses bytes above 0x7e in the request target (400 before routing)"),
    ));

    // NUL bytes.
    t.push(case(
        "POST /Users: escaped NUL in userName",
        raw.json(
            "POST",
            "/Users",
            user("nul\u{0}user").to_string().as_bytes(),
        ),
        any,
    ));
    t.push(case(
        "POST /Users: raw NUL byte in a string",
        raw.json("POST", "/Users", b"{\"userName\":\"nul\x00raw\"}"),
        bad,
    ));
    t.push(case(
        "PATCH: escaped NUL in externalId",
        raw.json(
            "PATCH",
            &victim_path,
            &patch(&json!([{"op": "replace", "path": "externalId", "value": "x\u{0}y"}])),
        ),
        any,
    ));
    t.push(case(
        "GET: NUL in a filter value",
        raw.get(&format!(
            "/Users?filter={}",
            query("userName eq \"victim\u{0}\"")
        )),
        NoMatch,
    ));
    t.push(case(
        "GET: NUL in an id",
        raw.get("/Users/%00"),
        Scim(Some(404)),
    ));
    t.push(case(
        "GET: raw NUL in a header value",
        splice(
            raw.request("GET", "/Users", &[("X-Probe", "aMARKb")], b""),
            b"MARK",
            b"\x00",
        ),
        Transport("httparse refuses control characters in header values (400 before routing)"),
    ));

    // Filters aimed at Keycloak's query parameters (`username`, `exact`, `q`,
    // `search`, `email`): none may widen the query. The realm holds the
    // victim with externalId "x", so a `q` split on the space would find it.
    let user_filters = [
        "userName eq \"a&exact=false&username=\"",
        "userName eq \"victim&exact=false\"",
        "userName eq \"a\\u0026exact=false\\u0026username=\"",
        "userName eq \"*\"",
        "userName eq \"%\"",
        "userName eq \"_\"",
        "userName eq \"victim%\"",
        "userName eq \"victim*\"",
        "userName eq \"vic_im@example.com\"",
        "userName co \"%\"",
        "userName sw \"*\"",
        "externalId eq \"x y:z\"",
        "externalId eq \"y:z x\"",
        "externalId eq \"externalId:x\"",
        "externalId eq \"x\\ty\"",
        "externalId eq \"*\"",
        "externalId eq \"%\"",
        "externalId eq \"x\\\" or \\\"1\\\" eq \\\"1\"",
        "emails[type eq \"work\"].value eq \"%\"",
        "emails.value eq \"*@example.com\"",
        "emails[type eq \"work\"].value eq \"victim@example.com&exact=false\"",
        "id eq \"../../admin\"",
        "id eq \"*\"",
        "id eq \"..\"",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"x y:z\"",
    ];
    for f in user_filters {
        t.push(case(
            format!("GET /Users filter {f}"),
            raw.get(&format!("/Users?filter={}", query(f))),
            NoMatch,
        ));
    }
    let group_filters = [
        "displayName eq \"*\"",
        "displayName eq \"%\"",
        "displayName eq \"a&max=100000&search=\"",
        "externalId eq \"x y:z\"",
        "id eq \"..\"",
    ];
    for f in group_filters {
        t.push(case(
            format!("GET /Groups filter {f}"),
            raw.get(&format!("/Groups?filter={}", query(f))),
            NoMatch,
        ));
    }
    t.push(case(
        "GET /Users filter userName eq of 6,000 characters",
        raw.get(&format!(
            "/Users?filter={}",
            query(&format!("userName eq \"{}\"", "v".repeat(6_000)))
        )),
        NoMatch,
    ));
    let ors: Vec<String> = (0..3_000)
        .map(|i| format!("userName eq \"n{i}\""))
        .collect();
    t.push(case(
        "POST /Users/.search: 3,000 or-terms",
        raw.json(
            "POST",
            "/Users/.search",
            json!({"filter": ors.join(" or ")}).to_string().as_bytes(),
        ),
        NoMatch,
    ));
    t.push(case(
        "GET /Users filter in 1,000 nested parentheses",
        raw.get(&format!(
            "/Users?filter={}",
            query(&nested("(", "userName eq \"a\"", ")", 1_000))
        )),
        bad,
    ));
    t.push(case(
        "GET /Users filter in 1,000 nested not()",
        raw.get(&format!(
            "/Users?filter={}",
            query(&nested("not(", "userName eq \"a\"", ")", 1_000))
        )),
        bad,
    ));
    t.push(case(
        "POST /Users/.search: 10,000 nested value paths",
        raw.json(
            "POST",
            "/Users/.search",
            json!({"filter": nested("emails[", "value eq \"a\"", "]", 10_000)})
                .to_string()
                .as_bytes(),
        ),
        bad,
    ));
    t.push(case(
        "GET /Users filter with an unbalanced quote",
        raw.get(&format!("/Users?filter={}", query("userName eq \"a"))),
        bad,
    ));
    t.push(case(
        "GET /Users filter with an unknown operator",
        raw.get(&format!("/Users?filter={}", query("userName like \"%\""))),
        bad,
    ));
    t.push(case(
        "GET /Users sortBy injection",
        raw.get(&format!("/Users?sortBy={}", query("userName&exact=false"))),
        bad,
    ));
    t.push(case(
        "GET /Users attributes injection",
        raw.get(&format!("/Users?attributes={}", query("userName[[[["))),
        bad,
    ));

    // PATCH paths aimed at the mapping or at Keycloak.
    let bad_paths = [
        json!({"op": "replace", "path": "userName&exact=false", "value": "p"}),
        json!({"op": "replace", "path": "id", "value": "00000000-0000-0000-0000-000000000000"}),
        json!({"op": "replace", "path": "meta.created", "value": "2000-01-01T00:00:00Z"}),
        json!({"op": "replace", "path": "emails[type eq \"work\" or 1 eq 1].value", "value": "p@example.com"}),
        json!({"op": "replace", "path": "emails[value pr]]", "value": "p"}),
        json!({"op": "replace", "path": "../../admin", "value": "p"}),
        json!({"op": "add", "path": "groups", "value": [{"value": "x"}]}),
        json!({"op": "replace", "path": "name.givenName.first", "value": "p"}),
        json!({"op": "replace", "path": nested("emails[", "value eq \"a\"", "]", 10_000), "value": "p"}),
        json!({"op": "replace", "path": "a".repeat(100_000), "value": "p"}),
        json!({"op": "move", "path": "displayName", "value": "p"}),
        json!({"op": "", "path": "displayName", "value": "p"}),
        json!({"path": "displayName", "value": "p"}),
        json!({"op": "replace", "path": "active", "value": {"nested": true}}),
        json!({"op": "replace", "path": "active", "value": "maybe"}),
        json!({"op": "replace", "path": "", "value": "p"}),
        json!({"op": "replace", "path": "emails[type eq \"work\"", "value": "p"}),
    ];
    for op in bad_paths {
        let label: String = op.to_string().chars().take(90).collect();
        t.push(case(
            format!("PATCH op {label}"),
            raw.json("PATCH", &victim_path, &patch(&json!([op]))),
            bad,
        ));
    }
    t.push(case(
        "PATCH: Operations is not an array",
        raw.json(
            "PATCH",
            &victim_path,
            json!({"schemas": [PATCH_OP], "Operations": {"op": "replace"}})
                .to_string()
                .as_bytes(),
        ),
        bad,
    ));
    t.push(case(
        "PATCH /Groups: unterminated member filter",
        raw.json(
            "PATCH",
            &group_path,
            &patch(&json!([{"op": "remove", "path": "members[value eq \"x\" or value pr"}])),
        ),
        bad,
    ));

    // Header abuse.
    let huge_header = "h".repeat(256 * 1024);
    t.push(case(
        "GET: one 256 KiB header",
        raw.request("GET", "/Users", &[("X-Huge", &huge_header)], b""),
        Transport("the request head exceeds actix-http's buffer: 431 before routing"),
    ));
    let many: Vec<(String, String)> = (0..200)
        .map(|i| (format!("X-H{i}"), "v".to_owned()))
        .collect();
    let many_refs: Vec<(&str, &str)> = many.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    t.push(case(
        "GET: 200 headers",
        raw.request("GET", "/Users", &many_refs, b""),
        Transport("more headers than actix-http parses (96): 431 before routing"),
    ));
    let valid = format!("Bearer {}", raw.token);
    t.push(case(
        "POST /Users: two Authorization headers, valid first",
        raw.request(
            "POST",
            "/Users",
            &[
                ("Authorization", &valid),
                ("Authorization", "Bearer forged"),
                ("Content-Type", "application/scim+json"),
            ],
            user("dup_auth_1@example.com").to_string().as_bytes(),
        ),
        any,
    ));
    t.push(case(
        "POST /Users: two Authorization headers, valid second",
        raw.request(
            "POST",
            "/Users",
            &[
                ("Authorization", "Bearer forged"),
                ("Authorization", &valid),
                ("Content-Type", "application/scim+json"),
            ],
            user("dup_auth_2@example.com").to_string().as_bytes(),
        ),
        any,
    ));
    for (what, value) in [
        ("Basic credentials", "Basic YWRtaW46YWRtaW4=".to_owned()),
        ("empty bearer", "Bearer".to_owned()),
        ("two tokens", format!("Bearer {} {}", raw.token, raw.token)),
        ("16 KiB token", format!("Bearer {}", "t".repeat(16 * 1024))),
        ("token with a comma", format!("Bearer {},x", raw.token)),
    ] {
        t.push(case(
            format!("POST /Users: Authorization {what}"),
            raw.request(
                "POST",
                "/Users",
                &[
                    ("Authorization", &value),
                    ("Content-Type", "application/scim+json"),
                ],
                user("bad_auth@example.com").to_string().as_bytes(),
            ),
            Scim(Some(401)),
        ));
    }
    let body = user("cl_mismatch@example.com").to_string();
    t.push(Case {
        name: "POST /Users: Content-Length larger than the body".to_owned(),
        raw: raw.request(
            "POST",
            "/Users",
            &[
                ("Content-Type", "application/scim+json"),
                ("Content-Length", &(body.len() + 100).to_string()),
            ],
            body.as_bytes(),
        ),
        half_close: true,
        expect: bad,
    });
    t.push(case(
        "POST /Users: Content-Length smaller than the body",
        raw.request(
            "POST",
            "/Users",
            &[
                ("Content-Type", "application/scim+json"),
                ("Content-Length", &(body.len() - 5).to_string()),
            ],
            body.as_bytes(),
        ),
        bad,
    ));
    t.push(case(
        "POST /Users: negative Content-Length",
        raw.request(
            "POST",
            "/Users",
            &[
                ("Content-Type", "application/scim+json"),
                ("Content-Length", "-1"),
            ],
            body.as_bytes(),
        ),
        Transport("an unparsable Content-Length is refused by actix-http's parser (400)"),
    ));
    t.push(case(
        "POST /Users: two different Content-Length headers",
        format!(
            "POST {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: 3\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            raw.path("/Users"),
            raw.token,
            body.len()
        )
        .into_bytes(),
        Transport("conflicting Content-Length headers are refused by actix-http (400, smuggling guard)"),
    ));
    t.push(case(
        "POST /Users: Content-Length with Transfer-Encoding chunked",
        format!(
            "POST {} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n{:x}\r\n{body}\r\n0\r\n\r\n",
            raw.path("/Users"),
            raw.token,
            body.len(),
            body.len()
        )
        .into_bytes(),
        Transport("Content-Length together with Transfer-Encoding is refused by actix-http (400, smuggling guard)"),
    ));
    t.push(case(
        "POST /Users: malformed chunk size",
        raw.request(
            "POST",
            "/Users",
            &[
                ("Content-Type", "application/scim+json"),
                ("Transfer-Encoding", "chunked"),
            ],
            b"zz\r\n{}\r\n0\r\n\r\n",
        ),
        Transport("a malformed chunk is a payload error of actix-http's decoder; it may close the connection with its own 400"),
    ));
    for (what, content_type) in [
        ("text/plain", Some("text/plain")),
        ("application/xml", Some("application/xml")),
        ("form", Some("application/x-www-form-urlencoded")),
        ("multipart", Some("multipart/form-data; boundary=x")),
        ("json-patch", Some("application/json-patch+json")),
        ("scim+jsonx", Some("application/scim+jsonx")),
        ("none", None),
    ] {
        let mut headers = Vec::new();
        if let Some(ct) = content_type {
            headers.push(("Content-Type", ct));
        }
        t.push(case(
            format!("POST /Users: Content-Type {what}"),
            raw.request(
                "POST",
                "/Users",
                &headers,
                user("wrong_type@example.com").to_string().as_bytes(),
            ),
            Scim(Some(415)),
        ));
    }
    t.push(case(
        "PATCH: Content-Type text/plain",
        raw.request(
            "PATCH",
            &victim_path,
            &[("Content-Type", "text/plain")],
            &patch(&json!([{"op": "replace", "path": "displayName", "value": "ct"}])),
        ),
        Scim(Some(415)),
    ));
    t.push(case(
        "POST /Users: Content-Encoding gzip on a plain body",
        raw.request(
            "POST",
            "/Users",
            &[
                ("Content-Type", "application/scim+json"),
                ("Content-Encoding", "gzip"),
            ],
            user("not_gzip@example.com").to_string().as_bytes(),
        ),
        any,
    ));
    let bomb = gzip(&vec![b' '; 64 * 1024 * 1024]);
    t.push(case(
        "POST /Users: gzip bomb (64 MiB of spaces)",
        raw.request(
            "POST",
            "/Users",
            &[
                ("Content-Type", "application/scim+json"),
                ("Content-Encoding", "gzip"),
            ],
            &bomb,
        ),
        any,
    ));

    // Oversized bodies (the limit is 1 MiB).
    let oversize = {
        let mut u = user("oversize@example.com");
        u["displayName"] = json!("o".repeat(2 * 1024 * 1024));
        u.to_string().into_bytes()
    };
    for (method, path) in [
        ("POST", "/Users".to_owned()),
        ("PUT", victim_path.clone()),
        ("PATCH", victim_path.clone()),
        ("POST", "/Users/.search".to_owned()),
        ("POST", "/Groups".to_owned()),
        ("PATCH", group_path.clone()),
    ] {
        t.push(case(
            format!("{method} {path}: 2 MiB body"),
            raw.json(method, &path, &oversize),
            Scim(Some(413)),
        ));
    }
    let mut chunked = Vec::new();
    for piece in oversize.chunks(64 * 1024) {
        chunked.extend_from_slice(format!("{:x}\r\n", piece.len()).as_bytes());
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    t.push(case(
        "POST /Users: 2 MiB chunked body without Content-Length",
        raw.request(
            "POST",
            "/Users",
            &[
                ("Content-Type", "application/scim+json"),
                ("Transfer-Encoding", "chunked"),
            ],
            &chunked,
        ),
        Scim(Some(413)),
    ));
    t.push(case(
        "POST /Users: announced 10 GiB with Expect: 100-continue",
        raw.request(
            "POST",
            "/Users",
            &[
                ("Content-Type", "application/scim+json"),
                ("Content-Length", "10737418240"),
                ("Expect", "100-continue"),
            ],
            b"",
        ),
        Scim(Some(413)),
    ));

    // Methods no endpoint has.
    for (method, path) in [
        ("FOO", "/Users".to_owned()),
        ("TRACE", "/Users".to_owned()),
        ("PROPFIND", "/Users".to_owned()),
        ("get", "/Users".to_owned()),
        ("DELETE", "/Users".to_owned()),
        ("PUT", "/Users".to_owned()),
        ("PATCH", "/ServiceProviderConfig".to_owned()),
        ("POST", victim_path.clone()),
        ("DELETE", "/Schemas".to_owned()),
        (&*"M".repeat(1000), "/Users".to_owned()),
    ] {
        let label: String = method.chars().take(12).collect();
        t.push(case(
            format!("{label} {path}"),
            raw.request(method, &path, &[], b""),
            any,
        ));
    }

    // Path traversal in ids and realms.
    for (method, path) in [
        ("GET", "/Users/../../admin"),
        ("GET", "/Users/..%2F..%2Fadmin"),
        ("GET", "/Users/%2e%2e%2f%2e%2e%2fadmin"),
        ("GET", "/Users/.."),
        ("GET", "/Users/%2e%2e"),
        ("GET", "/Users/."),
        ("DELETE", "/Users/.."),
        ("DELETE", "/Users/%2e%2e"),
        ("DELETE", "/Users/..%2F.."),
        ("DELETE", "/Users/%2e%2e%2f%2e%2e"),
        ("GET", "/Groups/.."),
        ("DELETE", "/Groups/.."),
        ("DELETE", "/Groups/%2e%2e%2f%2e%2e"),
        ("GET", "/Users/x%3Fbriefrepresentation=true"),
        ("GET", "/Users/%23"),
    ] {
        t.push(case(
            format!("{method} {path}"),
            raw.request(method, path, &[], b""),
            any,
        ));
    }
    t.push(case(
        "PATCH /Users/..",
        raw.json(
            "PATCH",
            "/Users/..",
            &patch(&json!([{"op": "replace", "path": "displayName", "value": "dotdot"}])),
        ),
        any,
    ));
    t.push(case(
        "PUT /Users/%2e%2e",
        raw.json(
            "PUT",
            "/Users/%2e%2e",
            user("dotdot@example.com").to_string().as_bytes(),
        ),
        any,
    ));
    t.push(case(
        "PATCH /Groups/.. members",
        raw.json(
            "PATCH",
            "/Groups/..",
            &patch(&json!([{"op": "add", "path": "members", "value": [{"value": victim}]}])),
        ),
        any,
    ));
    t.push(case(
        "GET /Users/ id of 65 characters",
        raw.get(&format!("/Users/{}", "a".repeat(65))),
        Scim(Some(404)),
    ));
    for realm_path in [
        "/realms/..%2Fmaster/scim/v2/Users",
        "/realms/%2e%2e/scim/v2/Users",
        "/realms/master/scim/v2/Users",
        "/realms/../scim/v2/Users",
    ] {
        t.push(case(
            format!("GET {realm_path}"),
            format!(
                "GET {realm_path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nConnection: close\r\n\r\n",
                raw.token
            )
            .into_bytes(),
            any,
        ));
    }
    t
}

/// One raw exchange: status, headers (lower-cased names), body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Parses the first HTTP/1.1 response in `raw` (Content-Length or chunked).
fn parse_answer(raw: &[u8]) -> Option<Answer> {
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..end]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let rest = &raw[end + 4..];
    let find = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let body = if let Some(len) = find("content-length").and_then(|v| v.parse::<usize>().ok()) {
        rest[..len.min(rest.len())].to_vec()
    } else if find("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
        let mut out = Vec::new();
        let mut at = rest;
        loop {
            let line_end = at.windows(2).position(|w| w == b"\r\n")?;
            let size = usize::from_str_radix(std::str::from_utf8(&at[..line_end]).ok()?.trim(), 16)
                .ok()?;
            at = &at[line_end + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(&at[..size.min(at.len())]);
            at = at.get(size + 2..)?;
        }
        out
    } else {
        rest.to_vec()
    };
    Some(Answer {
        status,
        headers,
        body,
    })
}

/// Sends one case on a fresh connection; the raw response, or why there is none.
async fn exchange(address: &str, case: &Case) -> Result<Vec<u8>, String> {
    let run = async {
        let mut stream = TcpStream::connect(address)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        // The server may answer (413, 431) and close before it read all we
        // send: a failed write is fine as long as a response arrives.
        let _ = stream.write_all(&case.raw).await;
        if case.half_close {
            let _ = stream.shutdown().await;
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if !out.is_empty() => {
                    // A reset after the response (unread request bytes) is fine.
                    let _ = e;
                    break;
                }
                Err(e) => return Err(format!("read: {e}")),
            }
            if let Some(answer) = parse_answer(&out) {
                if answer.status != 100 && complete(&out) {
                    break;
                }
            }
        }
        Ok(out)
    };
    tokio::time::timeout(CASE_TIMEOUT, run)
        .await
        .map_err(|_| format!("no complete answer within {CASE_TIMEOUT:?}: a hang"))?
}

/// Whether `raw` holds a whole response with a known length.
fn complete(raw: &[u8]) -> bool {
    let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..end]).to_ascii_lowercase();
    let len = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    match len {
        Some(n) => raw.len() >= end + 4 + n,
        None => head.contains("chunked") && raw.ends_with(b"0\r\n\r\n"),
    }
}

/// Drops an interim `100 Continue` ahead of the final response.
fn final_response(raw: &[u8]) -> &[u8] {
    if raw.starts_with(b"HTTP/1.1 100") {
        if let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") {
            return &raw[end + 4..];
        }
    }
    raw
}

fn check(case: &Case, answer: &Answer) -> Result<(), String> {
    let body: Value = serde_json::from_slice(&answer.body).unwrap_or(Value::Null);
    let shown = String::from_utf8_lossy(&answer.body[..answer.body.len().min(300)]).into_owned();
    let is_scim_error = |status: u16| -> Result<(), String> {
        if body["schemas"][0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
            return Err(format!("{status} without a SCIM error body: {shown}"));
        }
        if body["status"] != json!(status.to_string()) {
            return Err(format!("body status is not \"{status}\": {shown}"));
        }
        if answer.header("content-type") != Some("application/scim+json") {
            return Err(format!(
                "Content-Type {:?}, not application/scim+json",
                answer.header("content-type")
            ));
        }
        Ok(())
    };
    if answer.status >= 500 {
        return Err(format!("a 5xx: {} {shown}", answer.status));
    }
    match case.expect {
        Expect::Scim(want) => {
            if let Some(want) = want {
                if answer.status != want {
                    return Err(format!("{} instead of {want}: {shown}", answer.status));
                }
            } else if !(400..500).contains(&answer.status) {
                return Err(format!("{} is not a 4xx: {shown}", answer.status));
            }
            is_scim_error(answer.status)
        }
        Expect::NoMatch => match answer.status {
            200 => {
                if body["totalResults"] == json!(0) && body["Resources"] == json!([]) {
                    Ok(())
                } else {
                    Err(format!("the hostile value matched resources: {shown}"))
                }
            }
            400 => is_scim_error(400),
            other => Err(format!(
                "{other}: neither an empty list nor a SCIM 400: {shown}"
            )),
        },
        Expect::Transport(_) => {
            if (400..500).contains(&answer.status) {
                Ok(())
            } else {
                Err(format!("{} is not a 4xx: {shown}", answer.status))
            }
        }
    }
}

/// Users (full representations) and groups of the realm, ordered by id.
async fn snapshot(app: &TestApp) -> Value {
    let mut users = app
        .kc
        .get_realm_value(
            &app.realm,
            &["users"],
            &[
                ("briefRepresentation", "false".to_owned()),
                ("max", "10000".to_owned()),
            ],
        )
        .await
        .expect("users");
    let mut groups = app
        .kc
        .get_realm_value(
            &app.realm,
            &["groups"],
            &[
                ("briefRepresentation", "false".to_owned()),
                ("max", "10000".to_owned()),
            ],
        )
        .await
        .expect("groups");
    let mut members = Vec::new();
    for g in groups.as_array().into_iter().flatten() {
        let id = g["id"].as_str().expect("group id");
        let m = app
            .kc
            .get_realm_value(&app.realm, &["groups", id, "members"], &[])
            .await
            .expect("members");
        members.push(json!({"group": id, "members": m}));
    }
    for list in [&mut users, &mut groups] {
        if let Some(items) = list.as_array_mut() {
            items.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
        }
    }
    json!({"users": users, "groups": groups, "members": members})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_get_a_4xx_and_change_nothing() {
    let app = spawn_app("hostile").await;
    let victim = app
        .post(
            "/Users",
            &json!({"schemas": [USER], "userName": "victim@example.com", "externalId": "x",
                    "emails": [{"value": "victim@example.com", "type": "work", "primary": true}],
                    "name": {"givenName": "Vic", "familyName": "Tim"}}),
        )
        .await;
    assert_eq!(victim.status, 201, "{}", victim.body);
    let victim_id = victim.body["id"].as_str().expect("id").to_owned();
    let other = app
        .post(
            "/Users",
            &json!({"schemas": [USER], "userName": "yyy", "externalId": "y:z"}),
        )
        .await;
    assert_eq!(other.status, 201, "{}", other.body);
    let group = app
        .post(
            "/Groups",
            &json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "a", "externalId": "x",
                    "members": [{"value": victim_id}]}),
        )
        .await;
    assert_eq!(group.status, 201, "{}", group.body);
    let group_id = group.body["id"].as_str().expect("id").to_owned();

    let before = snapshot(&app).await;
    let address = app.address.trim_start_matches("http://").to_owned();
    let raw = Raw {
        realm: &app.realm,
        token: &app.token,
    };
    let cases = table(&raw, &victim_id, &group_id);
    assert!(cases.len() >= 100, "the table has {} rows", cases.len());

    let started = Instant::now();
    let mut failures = Vec::new();
    let mut transport = 0;
    for case in &cases {
        let outcome = exchange(&address, case).await.and_then(|raw| {
            let answer = parse_answer(final_response(&raw)).ok_or_else(|| {
                format!(
                    "no parsable HTTP response: {:?}",
                    String::from_utf8_lossy(&raw[..raw.len().min(200)])
                )
            })?;
            check(case, &answer).map(|()| answer.status)
        });
        match outcome {
            Ok(status) => {
                if let Expect::Transport(reason) = case.expect {
                    transport += 1;
                    eprintln!("ok   {status} {} (actix-web: {reason})", case.name);
                } else {
                    eprintln!("ok   {status} {}", case.name);
                }
            }
            Err(why) => {
                eprintln!("FAIL {}: {why}", case.name);
                failures.push(format!("{}: {why}", case.name));
            }
        }
    }
    eprintln!(
        "{} hostile requests in {:?}; {transport} answered by actix-web before SCIM code",
        cases.len(),
        started.elapsed()
    );

    // The server is still healthy, and nothing was written.
    let alive = app.get("/Users?count=1").await;
    assert_eq!(
        alive.status, 200,
        "the server answers after the table: {}",
        alive.body
    );
    let after = snapshot(&app).await;
    assert!(
        failures.is_empty(),
        "{} of {} hostile requests were mishandled:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    assert_eq!(before, after, "the hostile requests changed the directory");
}
