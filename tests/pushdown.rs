//! Filter pushdown against a real Keycloak: the search semantics of
//! Keycloak's Admin API that `mapping/pushdown.rs` relies on, pinned one by
//! one.

mod common;

use std::collections::BTreeMap;

use kc_scim::keycloak::{GroupQuery, KcAdmin, KcGroup, KcUser, UserQuery};
use kc_scim::mapping::EMAIL_VALUES_ATTRIBUTE;
use serde_json::json;

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
