//! Table tests of the filter parser, `Display` and evaluation, kept apart
//! from the code so that each of `parse.rs` and `eval.rs` reads as one job.

use super::*;
use serde_json::json;

fn p(s: &str) -> Filter {
    match parse_filter(s) {
        Ok(f) => f,
        Err(e) => panic!("{s}: {e}"),
    }
}

fn eq(path: AttrPath, s: &str) -> Filter {
    Filter::compare(path, CompareOp::Eq, CompValue::String(s.into()))
}

#[test]
fn parses_entra_lookups() {
    assert_eq!(
        p(r#"userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081""#),
        eq(
            AttrPath::new("userName"),
            "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081"
        )
    );
    assert_eq!(
        p(r#"displayName eq "displayName""#),
        eq(AttrPath::new("displayName"), "displayName")
    );
    // Microsoft's tutorial shows the value unquoted.
    assert_eq!(
        p("externalId eq jyoung"),
        eq(AttrPath::new("externalId"), "jyoung")
    );
}

#[test]
fn value_path_with_trailing_sub_attribute_comparison_is_folded_into_the_brackets() {
    let f = p(r#"emails[type eq "work"].value eq "a@b.c""#);
    assert_eq!(
        f,
        Filter::ValuePath(ValuePath {
            attr: AttrPath::new("emails"),
            filter: Box::new(Filter::and(
                eq(AttrPath::new("type"), "work"),
                eq(AttrPath::new("value"), "a@b.c")
            )),
        })
    );
    assert_eq!(
        f.to_string(),
        r#"emails[type eq "work" and value eq "a@b.c"]"#
    );
}

#[test]
fn operators_and_keywords_are_case_insensitive() {
    assert_eq!(
        p(r#"userName EQ "x" AND Active Eq TRUE"#),
        Filter::and(
            eq(AttrPath::new("userName"), "x"),
            Filter::compare(
                AttrPath::new("Active"),
                CompareOp::Eq,
                CompValue::Bool(true)
            )
        )
    );
    assert_eq!(
        p("title PR"),
        Filter::Present {
            path: AttrPath::new("title")
        }
    );
    assert!(matches!(p("NOT (title pr)"), Filter::Not(_)));
}

#[test]
fn and_binds_tighter_than_or_and_display_keeps_grouping() {
    let f = p("a pr or b pr and c pr");
    assert_eq!(
        f,
        Filter::or(
            Filter::Present {
                path: AttrPath::new("a")
            },
            Filter::and(
                Filter::Present {
                    path: AttrPath::new("b")
                },
                Filter::Present {
                    path: AttrPath::new("c")
                }
            )
        )
    );
    let g = p("(a pr or b pr) and c pr");
    assert_eq!(g.to_string(), "(a pr or b pr) and c pr");
    assert_eq!(p(&g.to_string()), g);
    let h = p("a pr or (b pr or c pr)");
    assert_eq!(h.to_string(), "a pr or (b pr or c pr)");
}

#[test]
fn parses_urn_qualified_paths_and_rfc_examples() {
    let f = p(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
    );
    assert_eq!(
        f,
        eq(
            AttrPath::new("employeeNumber")
                .with_schema("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
            "701984"
        )
    );
    for s in [
        r#"name.familyName co "O'Malley""#,
        r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
        r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
        r#"title pr and userType eq "Employee""#,
        r#"title pr or userType eq "Intern""#,
        r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
        r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
        r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
        r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
        "members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]",
        "loginCount ge 10 and ratio lt -1.5e3 and x eq null and y ne false",
        r#"name.givenName eq "Ba\"bs\\\u00e9""#,
    ] {
        let f = p(s);
        assert_eq!(p(&f.to_string()), f, "{s}");
    }
}

#[test]
fn errors_are_invalid_filter_with_offsets() {
    for (s, offset) in [
        ("userName eq", 11),
        ("userName xx \"a\"", 9),
        ("userName eq \"a\" garbage", 16),
        ("(userName pr", 12),
        ("userName eq \"a", 12),
        ("emails[type eq \"w\"", 18),
        ("emails[a[b pr]]", 8),
        ("", 0),
        ("a:b eq 1", 0),
        ("a.b.c eq 1", 0),
        ("x eq 1e999", 5),
        ("a pr)", 4),
    ] {
        let e = parse_filter(s).expect_err(s);
        assert_eq!(
            e.scim_type,
            Some(crate::scim::error::ScimType::InvalidFilter),
            "{s}"
        );
        assert!(
            e.detail.contains(&format!("offset {offset}")),
            "{s}: {}",
            e.detail
        );
    }
}

#[test]
fn bounds_length_and_depth() {
    let long = format!("userName eq \"{}\"", "a".repeat(MAX_FILTER_LEN));
    assert!(parse_filter(&long).is_err());
    let deep = format!(
        "{}a pr{}",
        "(".repeat(MAX_DEPTH + 1),
        ")".repeat(MAX_DEPTH + 1)
    );
    assert!(parse_filter(&deep).is_err());
    let ok = format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
    assert!(parse_filter(&ok).is_ok());
    let nots = format!("{}a pr{}", "not (".repeat(40), ")".repeat(40));
    assert!(parse_filter(&nots).is_err());
}

#[test]
fn longest_chains_within_the_length_bound_parse_display_and_evaluate() {
    let mut text = "a pr".to_owned();
    while text.len() + 16 < MAX_FILTER_LEN {
        text.push_str(" or b pr and a pr");
    }
    let f = p(&text);
    assert_eq!(p(&f.to_string()), f);
    assert!(f.matches(&json!({"a": 1}), &ResourceSchema::user()));
    assert!(f.conjuncts().len() == 1 && f.disjuncts().len() > 400);
}

#[test]
fn attr_path_parsing() {
    assert_eq!(
        parse_attr_path("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"),
        Ok(AttrPath::new("manager")
            .with_schema("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
            .with_sub("value"))
    );
    assert_eq!(
        parse_attr_path("members.$ref"),
        Ok(AttrPath::new("members").with_sub("$ref"))
    );
    assert!(parse_attr_path("emails[type eq \"work\"]").is_err());
    assert!(parse_attr_path("").is_err());
    assert!(parse_attr_path("urn:").is_err());
}

fn user() -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "id": "2819c223",
        "externalId": "Ext-1",
        "userName": "Bjensen@Example.com",
        "name": {"familyName": "Jensen", "givenName": "Barbara"},
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "meta": {"lastModified": "2011-05-13T04:42:34Z", "created": "2010-01-23T04:56:22Z"},
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
            "employeeNumber": "701984",
            "manager": {"value": "26118915"}
        }
    })
}

#[test]
fn evaluation_honours_case_exact_and_types() {
    let s = ResourceSchema::user();
    let u = user();
    let m = |f: &str| p(f).matches(&u, &s);
    assert!(
        m(r#"userName eq "bjensen@example.com""#),
        "userName is caseExact false"
    );
    assert!(m(r#"USERNAME Eq "BJENSEN@EXAMPLE.COM""#));
    assert!(
        !m(r#"externalId eq "ext-1""#),
        "externalId is caseExact true"
    );
    assert!(m(r#"externalId eq "Ext-1""#));
    assert!(m(r#"id eq "2819c223""#));
    assert!(m("active eq true"));
    assert!(!m("active eq false"));
    assert!(m(
        r#"emails[type eq "work"].value eq "bjensen@example.com""#
    ));
    assert!(!m(
        r#"emails[type eq "home"].value eq "bjensen@example.com""#
    ));
    assert!(m(r#"emails co "jensen.org""#));
    assert!(m(r#"emails.value ew "@jensen.org""#));
    assert!(m(r#"name.familyName sw "jen""#));
    assert!(m(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
    assert!(m(r#"meta.lastModified lt "2011-05-13T06:42:34+01:00""#));
    assert!(m(r#"meta.lastModified ge "2011-05-13T05:42:34+01:00""#));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
    ));
    assert!(m(
        r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#
    ));
    assert!(m("title eq null"));
    assert!(m(r#"title ne "x""#));
    assert!(m("not (title pr) and userName pr"));
    assert!(!m(r#"userName eq "non-existent user""#));
    assert!(!m("userName gt 3"));
}

#[test]
fn conjuncts_and_disjuncts() {
    let f = p(r#"a eq "1" and (b eq "2" and c pr) and (d pr or e pr)"#);
    let c = f.conjuncts();
    assert_eq!(c.len(), 4);
    assert_eq!(c[0].as_eq_string(), Some((&AttrPath::new("a"), "1")));
    assert_eq!(c[3].disjuncts().len(), 2);
    let single = p("a pr");
    assert_eq!(single.conjuncts(), vec![&single]);
}

#[test]
fn unknown_attribute_names_the_first_path_the_schema_lacks() {
    let user = ResourceSchema::user();
    let group = ResourceSchema::group();
    let rows: [(&str, &ResourceSchema, Option<&str>); 10] = [
        ("userName eq \"a\"", &user, None),
        ("USERNAME eq \"a\" and externalId pr", &user, None),
        ("emails[type eq \"work\" and value co \"@\"]", &user, None),
        ("name.givenName sw \"A\"", &user, None),
        ("meta.lastModified gt \"2026-01-01T00:00:00Z\"", &user, None),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq \"m\"",
            &user,
            None,
        ),
        ("foo eq \"x\"", &user, Some("foo")),
        (
            "userName eq \"a\" or not (nickname2 pr)",
            &user,
            Some("nickname2"),
        ),
        ("emails[typo eq \"work\"]", &user, Some("emails.typo")),
        (
            "displayName eq \"g\" and members[value eq \"u\"]",
            &group,
            None,
        ),
    ];
    for (text, schema, want) in rows {
        let f = parse_filter(text).expect(text);
        assert_eq!(f.unknown_attribute(schema).as_deref(), want, "{text}");
    }
}
