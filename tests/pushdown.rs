//! Filter pushdown against a real Keycloak: first the search semantics of
//! Keycloak's Admin API that `mapping/pushdown.rs` relies on, pinned one by
//! one; then realms with more users (and groups) than `scim.max_scan`, where
//! `sw`, `co` and `ew` filters answer with exactly the right resources while
//! a filter nothing can push down still answers `tooMany`.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::{assert_scim_error, TestApp};
use kc_scim::keycloak::{GroupQuery, KcAdmin, KcGroup, KcUser, UserQuery};
use kc_scim::mapping::{
    plan_user_lookup, MapperTable, UserLookup, UserMapping, EMAIL_VALUES_ATTRIBUTE,
};
use serde_json::json;

/// The realms over the bound use this `scim.max_scan`.
const MAX_SCAN: usize = 20;

fn filter(f: &str) -> String {
    format!(
        "/Users?filter={}",
        url::form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
    )
}

fn group_filter(f: &str) -> String {
    format!(
        "/Groups?excludedAttributes=members&filter={}",
        url::form_urlencoded::byte_serialize(f.as_bytes()).collect::<String>()
    )
}

/// Declares `name` in the realm's user profile (admin-only), as bootstrap
/// does for the attributes SCIM stores, unless it is declared already.
async fn declare(kc: &KcAdmin, realm: &str, name: &str, multivalued: bool) {
    let mut profile = kc.user_profile(realm).await.expect("user profile");
    let attributes = profile["attributes"]
        .as_array_mut()
        .expect("a profile has attributes");
    if attributes.iter().any(|a| a["name"] == name) {
        return;
    }
    attributes.push(json!({
        "name": name,
        "displayName": name,
        "multivalued": multivalued,
        "permissions": {"view": ["admin"], "edit": ["admin"]},
    }));
    kc.update_user_profile(realm, &profile)
        .await
        .expect("profile update");
}

fn kc_user(username: &str, email: Option<&str>, attributes: &[(&str, &[&str])]) -> KcUser {
    let attributes: BTreeMap<String, Vec<String>> = attributes
        .iter()
        .map(|(k, vs)| {
            (
                (*k).to_owned(),
                vs.iter().map(|v| (*v).to_owned()).collect(),
            )
        })
        .collect();
    KcUser {
        username: Some(username.to_owned()),
        email: email.map(str::to_owned),
        enabled: Some(true),
        attributes: (!attributes.is_empty()).then_some(attributes),
        ..KcUser::default()
    }
}

/// Creates the users straight through the Admin API, a few at a time.
async fn create_users(kc: &KcAdmin, realm: &str, users: Vec<KcUser>) {
    for chunk in users.chunks(8) {
        let created =
            futures::future::join_all(chunk.iter().map(|u| kc.create_user(realm, u))).await;
        for (user, result) in chunk.iter().zip(created) {
            result.unwrap_or_else(|e| panic!("create {:?}: {e}", user.username));
        }
    }
}

/// The usernames a search finds, sorted.
async fn found(kc: &KcAdmin, realm: &str, query: UserQuery) -> Vec<String> {
    let query = UserQuery { max: 100, ..query };
    let mut names: Vec<String> = kc
        .find_users(realm, &query)
        .await
        .expect("user search")
        .into_iter()
        .filter_map(|u| u.username)
        .collect();
    names.sort();
    names
}

fn by_username(v: &str, infix: bool) -> UserQuery {
    UserQuery {
        username: Some(v.to_owned()),
        infix,
        ..UserQuery::default()
    }
}

fn by_email(v: &str, infix: bool) -> UserQuery {
    UserQuery {
        email: Some(v.to_owned()),
        infix,
        ..UserQuery::default()
    }
}

fn by_attribute(name: &str, v: &str, infix: bool) -> UserQuery {
    UserQuery {
        attribute: Some((name.to_owned(), v.to_owned())),
        infix,
        ..UserQuery::default()
    }
}

#[tokio::test]
async fn keycloak_user_search_semantics_the_planner_relies_on() {
    let kc = common::admin();
    let realm = common::fresh_realm(&kc, "kcsearch").await;
    declare(&kc, &realm, EMAIL_VALUES_ATTRIBUTE, true).await;
    let long = format!("Long{}End", "x".repeat(300));
    create_users(
        &kc,
        &realm,
        vec![
            kc_user(
                "alice",
                Some("Alice.Smith@Contoso.com"),
                &[("displayName", &["Bob Smith"])],
            ),
            kc_user(
                "xalicex",
                Some("bob@example.org"),
                &[("displayName", &["bob"])],
            ),
            kc_user("a_b", Some("a_b@x.org"), &[("displayName", &["Bobby"])]),
            kc_user("axb", Some("axb@x.org"), &[]),
            kc_user(
                "star",
                Some("a*b@x.org"),
                &[("displayName", &[long.as_str()])],
            ),
            kc_user(
                "second",
                Some("a@y.org"),
                &[(EMAIL_VALUES_ATTRIBUTE, &["a@y.org", "b@y.org"])],
            ),
        ],
    )
    .await;
    let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();

    // username with exact=false: infix, ignoring case.
    for part in ["ALI", "lic", "LICE"] {
        assert_eq!(
            found(&kc, &realm, by_username(part, true)).await,
            names(&["alice", "xalicex"]),
            "username infix {part}"
        );
    }
    // exact=true: equality, ignoring case.
    assert_eq!(
        found(&kc, &realm, by_username("ALICE", false)).await,
        names(&["alice"])
    );
    // `_` and `%` are LIKE wildcards (a pushed value only widens), `*` is not.
    assert_eq!(
        found(&kc, &realm, by_username("a_b", true)).await,
        names(&["a_b", "axb"])
    );
    assert_eq!(
        found(&kc, &realm, by_username("a%b", true)).await,
        names(&["a_b", "axb"])
    );
    assert_eq!(
        found(&kc, &realm, by_email("a*b", true)).await,
        names(&["star"])
    );
    // email with exact=false: infix, ignoring case; exact=true: equality.
    assert_eq!(
        found(&kc, &realm, by_email("SMITH@CONTOSO", true)).await,
        names(&["alice"])
    );
    assert_eq!(
        found(&kc, &realm, by_email("ALICE.SMITH@CONTOSO.COM", false)).await,
        names(&["alice"])
    );
    // Keycloak's email field holds one email: a secondary one is only in
    // the multivalued attribute, where `q` finds each value, ignoring case.
    assert!(found(&kc, &realm, by_email("b@y.org", false))
        .await
        .is_empty());
    assert_eq!(
        found(
            &kc,
            &realm,
            by_attribute(EMAIL_VALUES_ATTRIBUTE, "B@Y.ORG", false)
        )
        .await,
        names(&["second"])
    );
    assert_eq!(
        found(
            &kc,
            &realm,
            by_attribute(EMAIL_VALUES_ATTRIBUTE, "@Y.O", true)
        )
        .await,
        names(&["second"])
    );
    // `q` with exact=true is equality ignoring case, with exact=false infix.
    assert_eq!(
        found(&kc, &realm, by_attribute("displayName", "BOB", false)).await,
        names(&["xalicex"])
    );
    assert!(found(&kc, &realm, by_attribute("displayName", "bo", false))
        .await
        .is_empty());
    assert_eq!(
        found(&kc, &realm, by_attribute("displayName", "BO", true)).await,
        names(&["a_b", "alice", "xalicex"])
    );
    // A value over 255 characters is found by equality (ignoring case) but
    // never by infix: why displayName sw / co / ew is not pushed down.
    assert_eq!(
        found(
            &kc,
            &realm,
            by_attribute("displayName", &long.to_uppercase(), false)
        )
        .await,
        names(&["star"])
    );
    assert!(
        found(&kc, &realm, by_attribute("displayName", "xxxEnd", true))
            .await
            .is_empty()
    );
    assert!(
        found(&kc, &realm, by_attribute("displayName", "Longxxx", true))
            .await
            .is_empty()
    );
    // The count endpoint applies the same search (a list asks it before
    // reading past a full first page).
    for query in [
        by_username("a_b", true),
        by_username("ALICE", false),
        by_email("x.org", true),
        by_email("A*B@X.ORG", false),
        by_attribute("displayName", "BO", true),
        by_attribute("displayName", "bob", false),
        by_attribute(EMAIL_VALUES_ATTRIBUTE, "y.org", true),
        UserQuery::default(),
    ] {
        let count = kc.count_users(&realm, &query).await.expect("count");
        let listed = found(&kc, &realm, query.clone()).await;
        // Keycloak counts no service account; the unfiltered list does not
        // show it either.
        let listed = listed
            .iter()
            .filter(|n| !n.starts_with("service-account-"))
            .count();
        assert_eq!(count, listed, "{query:?}");
    }
    // `q` splits on spaces: "Bob Smith" would search for "Bob" alone.
    assert_eq!(
        found(&kc, &realm, by_attribute("displayName", "Bob Smith", false)).await,
        names(&["xalicex"])
    );
}

#[tokio::test]
async fn keycloak_group_name_search_semantics_the_planner_relies_on() {
    let kc = common::admin();
    let realm = common::fresh_realm(&kc, "kcgsearch").await;
    let mut parent = None;
    for name in [
        "Sales Team",
        "sales",
        "Presales",
        "R_D",
        "RxD",
        "a%b",
        "a\\b",
    ] {
        let group = KcGroup {
            name: name.to_owned(),
            ..KcGroup::default()
        };
        let id = kc.create_group(&realm, None, &group).await.expect("group");
        if name == "Presales" {
            parent = Some(id);
        }
    }
    let parent = parent.expect("Presales exists");
    for name in ["Child One", "kid_two", "kidXtwo"] {
        let group = KcGroup {
            name: name.to_owned(),
            ..KcGroup::default()
        };
        kc.create_group(&realm, Some(&parent), &group)
            .await
            .expect("child group");
    }
    let top = |part: &'static str| group_names(&kc, &realm, None, part);
    let under = |part: &'static str| group_names(&kc, &realm, Some(parent.as_str()), part);
    let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    // Top level: infix, ignoring case; a parent comes back for its children.
    assert_eq!(
        top("ALES").await,
        names(&["Presales", "Sales Team", "sales"])
    );
    assert_eq!(top("s t").await, names(&["Sales Team"]));
    assert_eq!(top("ild").await, names(&["Presales"]));
    // Keycloak escapes `_`, `%` and `\` in the name search itself.
    assert_eq!(top("R_D").await, names(&["R_D"]));
    assert_eq!(top("a%").await, names(&["a%b"]));
    assert_eq!(top("a\\").await, names(&["a\\b"]));
    // Children: Keycloak matches a prefix there; `*value*` makes it infix.
    assert_eq!(under("TWO").await, names(&["kidXtwo", "kid_two"]));
    assert_eq!(under("d_t").await, names(&["kid_two"]));
    assert_eq!(under("ONE").await, names(&["Child One"]));
}

/// The names of the groups (at top level or under `parent`) whose name
/// contains `part`, as Keycloak answers, sorted.
async fn group_names(kc: &KcAdmin, realm: &str, parent: Option<&str>, part: &str) -> Vec<String> {
    let query = GroupQuery {
        contains: Some(part.to_owned()),
        max: 100,
        ..GroupQuery::default()
    };
    let mut names: Vec<String> = kc
        .find_groups(realm, parent, &query)
        .await
        .expect("group search")
        .into_iter()
        .map(|g| g.name)
        .collect();
    names.sort();
    names
}

/// A realm served with `max_scan` = [`MAX_SCAN`] holding three times as many
/// users: fillers, plus the users the filters below select.
async fn crowded_realm(prefix: &str) -> TestApp {
    let max_scan = MAX_SCAN.to_string();
    let app = common::spawn_app_with(prefix, &[("KCSCIM_SCIM__MAX_SCAN", max_scan.as_str())]).await;
    declare(&app.kc, &app.realm, EMAIL_VALUES_ATTRIBUTE, true).await;
    let mut users: Vec<KcUser> = (0..3 * MAX_SCAN)
        .map(|i| {
            let name = format!("filler{i:02}");
            let email = format!("{name}@bulk.example");
            kc_user(&name, Some(&email), &[])
        })
        .collect();
    users.extend([
        kc_user("alice.smith", Some("alice@contoso.com"), &[]),
        kc_user("alicia.keys", Some("keys@fabrikam.com"), &[]),
        kc_user("malice", Some("mal@contoso.com"), &[]),
        kc_user("bob.alison", Some("bob@fabrikam.com"), &[]),
        kc_user("x_y1", Some("star*mail@x.org"), &[]),
        kc_user("xzy1", Some("plain@x.org"), &[]),
        kc_user(
            "attrs",
            None,
            &[("displayName", &["Bobby"]), ("externalId", &["ext-1"])],
        ),
        kc_user(
            "second",
            Some("first@multi.org"),
            &[(
                EMAIL_VALUES_ATTRIBUTE,
                &["first@multi.org", "other@multi.org"],
            )],
        ),
    ]);
    create_users(&app.kc, &app.realm, users).await;
    app
}

fn user_names(reply: &common::Reply) -> BTreeSet<String> {
    reply.body["Resources"]
        .as_array()
        .unwrap_or_else(|| panic!("a list response: {}", reply.body))
        .iter()
        .map(|r| r["userName"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn sw_co_ew_on_user_name_and_emails_answer_on_a_realm_over_max_scan() {
    let app = crowded_realm("pushed").await;
    // Nothing to push: the bound holds.
    for scan_only in [
        r#"name.givenName co "a""#,
        r#"displayName co "a""#,
        r#"userName gt "a""#,
        r#"userName co "a\\b""#,
    ] {
        let reply = app.get(&filter(scan_only)).await;
        assert_scim_error(&reply, 400, Some("tooMany"));
    }
    let rows: &[(&str, &[&str])] = &[
        (r#"userName sw "ALI""#, &["alice.smith", "alicia.keys"]),
        (
            r#"userName co "lic""#,
            &["alice.smith", "alicia.keys", "malice"],
        ),
        (r#"userName ew "ICE""#, &["malice"]),
        // Keycloak reads `_` as a wildcard and also finds xzy1: the check
        // of the full filter removes it.
        (r#"userName co "x_y""#, &["x_y1"]),
        (r#"emails.value co "CONTOSO""#, &["alice.smith", "malice"]),
        (r#"emails.value sw "bob""#, &["bob.alison"]),
        (
            r#"emails[value ew "fabrikam.com"]"#,
            &["alicia.keys", "bob.alison"],
        ),
        (r#"emails.value co "r*m""#, &["x_y1"]),
        (
            r#"userName sw "ali" and emails.value co "contoso""#,
            &["alice.smith"],
        ),
        (r#"emails.value eq "first@multi.org""#, &["second"]),
        // Keycloak's attribute search ignores case: a caseExact:false
        // attribute is found in any case, a caseExact one only as stored.
        (r#"displayName eq "BOBBY""#, &["attrs"]),
        (r#"externalId eq "ext-1""#, &["attrs"]),
        (r#"externalId eq "EXT-1""#, &[]),
        (r#"userName sw "nobody""#, &[]),
    ];
    for (f, expected) in rows {
        let reply = app.get(&filter(f)).await;
        assert_eq!(reply.status, 200, "{f}: {}", reply.body);
        let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(user_names(&reply), expected, "{f}");
        assert_eq!(reply.body["totalResults"], expected.len(), "{f}");
    }
    // Paging runs over the checked matches.
    let reply = app
        .get(&format!(
            "{}&sortBy=userName&startIndex=2&count=1",
            filter(r#"userName co "lic""#)
        ))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["totalResults"], 3);
    assert_eq!(reply.body["Resources"][0]["userName"], "alicia.keys");
    // A pushed search that finds more than max_scan candidates is tooMany,
    // and says which bound it hit.
    let reply = app.get(&filter(r#"userName sw "filler""#)).await;
    assert_scim_error(&reply, 400, Some("tooMany"));
    let detail = reply.body["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("searchable part"), "{detail}");
    let reply = app.get(&filter(r#"emails.value ew "@bulk.example""#)).await;
    assert_scim_error(&reply, 400, Some("tooMany"));
}

#[tokio::test]
async fn an_emails_term_finds_a_secondary_email_and_an_email_set_outside_scim() {
    let app = crowded_realm("emails").await;
    let mapping = UserMapping::new(&MapperTable::defaults());
    // What the planner sends for each term finds the user: the secondary
    // email only through the attribute, a user Keycloak alone wrote only
    // through its email field.
    let rows = [
        (r#"emails.value eq "OTHER@multi.org""#, "second"),
        (r#"emails.value eq "first@multi.org""#, "second"),
        (
            r#"emails[type eq "work" and value eq "other@multi.org"]"#,
            "second",
        ),
        (r#"emails.value co "other@mul""#, "second"),
        (r#"emails.value sw "other""#, "second"),
        (r#"emails.value eq "mal@contoso.com""#, "malice"),
        (r#"emails.value ew "l@contoso.com""#, "malice"),
    ];
    for (f, user) in rows {
        let parsed = kc_scim::scim::parse_filter(f).expect("filter");
        let UserLookup::Union(queries) = plan_user_lookup(&parsed, &mapping) else {
            panic!("{f}: not a union of searches");
        };
        let mut candidates = BTreeSet::new();
        for q in queries {
            candidates.extend(found(&app.kc, &app.realm, q).await);
        }
        assert!(candidates.contains(user), "{f}: {candidates:?}");
        assert!(candidates.len() <= MAX_SCAN, "{f}: {candidates:?}");
    }
    // Through SCIM, on a realm over max_scan: answered, not tooMany.
    let reply = app
        .get(&filter(r#"emails.value eq "other@multi.org""#))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let reply = app
        .get(&filter(r#"emails.value eq "MAL@contoso.com""#))
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(user_names(&reply), BTreeSet::from(["malice".to_owned()]));
}

#[tokio::test]
async fn sw_co_ew_on_group_display_name_answer_over_max_scan() {
    let max_scan = MAX_SCAN.to_string();
    let app =
        common::spawn_app_with("gpushed", &[("KCSCIM_SCIM__MAX_SCAN", max_scan.as_str())]).await;
    let mut names: Vec<String> = (0..2 * MAX_SCAN)
        .map(|i| format!("filler-{i:02}"))
        .collect();
    names.extend(["Sales Team", "sales", "Presales", "R_D", "RxD"].map(str::to_owned));
    for chunk in names.chunks(8) {
        let created = futures::future::join_all(chunk.iter().map(|name| {
            let group = KcGroup {
                name: name.clone(),
                ..KcGroup::default()
            };
            let kc = app.kc.clone();
            let realm = app.realm.clone();
            async move { kc.create_group(&realm, None, &group).await }
        }))
        .await;
        for result in created {
            result.expect("group created");
        }
    }
    let reply = app.get(&group_filter(r#"externalId co "x""#)).await;
    assert_scim_error(&reply, 400, Some("tooMany"));
    // Group names are case-sensitive here (as Keycloak's are) and Keycloak
    // searches ignoring case: the check of the full filter narrows.
    let rows: &[(&str, &[&str])] = &[
        (
            r#"displayName co "ales""#,
            &["Presales", "Sales Team", "sales"],
        ),
        (r#"displayName sw "Sal""#, &["Sales Team"]),
        (r#"displayName ew "Team""#, &["Sales Team"]),
        (r#"displayName co "SALES""#, &[]),
        (r#"displayName co "R_D""#, &["R_D"]),
    ];
    for (f, expected) in rows {
        let reply = app.get(&group_filter(f)).await;
        assert_eq!(reply.status, 200, "{f}: {}", reply.body);
        let got: BTreeSet<String> = reply.body["Resources"]
            .as_array()
            .unwrap_or_else(|| panic!("{f}: {}", reply.body))
            .iter()
            .map(|g| g["displayName"].as_str().unwrap_or_default().to_owned())
            .collect();
        let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(got, expected, "{f}: {}", reply.body);
    }
    let reply = app.get(&group_filter(r#"displayName sw "filler""#)).await;
    assert_scim_error(&reply, 400, Some("tooMany"));
}
