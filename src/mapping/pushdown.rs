//! Filter pushdown: which Keycloak searches return a superset of the users
//! (or groups) a SCIM filter selects. The full filter is always evaluated on
//! the candidates afterwards, so a plan may over-select but never
//! under-select. `docs/architecture.md` has the table of what is pushed, as
//! which Keycloak parameter, and why each is a superset.
//!
//! Invariant: a value that would change the meaning of a Keycloak query
//! parameter (the `q=name:value` syntax splits on spaces and colons; a
//! `LIKE` pattern may treat a backslash, `[` and `]` specially, depending
//! on the database) is never pushed down; such a term falls back to a bounded scan.

use crate::keycloak::{GroupQuery, UserQuery};
use crate::scim::{AttrPath, CompValue, CompareOp, Filter};

use super::user::UserMapping;
use super::EMAIL_VALUES_ATTRIBUTE;

/// How to find the candidate users for a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    /// `id eq "…"`: one GET by id.
    ById(String),
    /// One Keycloak search.
    Query(UserQuery),
    /// Several Keycloak searches: the candidates are their union, without
    /// repeats (a user is found by its primary email in Keycloak's `email`
    /// field, and by any of its emails in [`EMAIL_VALUES_ATTRIBUTE`]).
    Union(Vec<UserQuery>),
    /// No pushable term: scan the realm (bounded).
    Scan,
}

/// Plans the lookup for `filter`: the most selective pushable top-level
/// `and` term (id; then the equality terms userName, emails, attributes;
/// then `sw` / `co` / `ew` on userName and emails), the first one on a tie.
#[must_use]
pub fn plan_user_lookup(filter: &Filter, mapping: &UserMapping) -> UserLookup {
    let terms = filter.conjuncts();
    let mut best: Option<(u8, UserLookup)> = None;
    for term in terms {
        if let Some((rank, lookup)) = pushable(term, mapping) {
            if best.as_ref().is_none_or(|(r, _)| rank < *r) {
                best = Some((rank, lookup));
            }
        }
    }
    best.map_or(UserLookup::Scan, |(_, lookup)| lookup)
}

fn is(path: &AttrPath, name: &str, sub: Option<&str>) -> bool {
    path.schema
        .as_deref()
        .is_none_or(|s| s.eq_ignore_ascii_case(crate::scim::schema::USER_SCHEMA))
        && path.name.eq_ignore_ascii_case(name)
        && match (sub, path.sub_attr.as_deref()) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
}

fn query() -> UserQuery {
    UserQuery::default()
}

/// The operators pushed down as an infix search: each of them selects a
/// subset of "contains".
fn is_substring(op: CompareOp) -> bool {
    matches!(op, CompareOp::Sw | CompareOp::Co | CompareOp::Ew)
}

fn pushable(term: &Filter, mapping: &UserMapping) -> Option<(u8, UserLookup)> {
    match term {
        Filter::ValuePath(vp) if is(&vp.attr, "emails", None) => {
            // emails[type eq "work" and value eq "x"] (Entra's
            // `emails[type eq "work"].value eq "x"` parses to this).
            vp.filter
                .conjuncts()
                .into_iter()
                .filter_map(|inner| match inner {
                    Filter::Compare {
                        path,
                        op,
                        value: CompValue::String(value),
                    } if path.schema.is_none()
                        && path.sub_attr.is_none()
                        && path.name.eq_ignore_ascii_case("value") =>
                    {
                        email(*op, value)
                    }
                    _ => None,
                })
                .min_by_key(|(rank, _)| *rank)
        }
        Filter::Compare {
            path,
            op,
            value: CompValue::String(value),
        } => {
            if value.is_empty() {
                return None;
            }
            if is(path, "emails", Some("value")) || is(path, "emails", None) {
                return email(*op, value);
            }
            if is_substring(*op) {
                return (is(path, "userName", None) && safe_for_like(value)).then(|| {
                    (
                        4,
                        UserLookup::Query(UserQuery {
                            username: Some(value.to_lowercase()),
                            infix: true,
                            ..query()
                        }),
                    )
                });
            }
            if *op != CompareOp::Eq {
                return None;
            }
            if is(path, "id", None) {
                return Some((0, UserLookup::ById(value.clone())));
            }
            if is(path, "userName", None) {
                return Some((
                    1,
                    UserLookup::Query(UserQuery {
                        username: Some(value.clone()),
                        ..query()
                    }),
                ));
            }
            // Keycloak's `q` compares ignoring case, so this is a superset
            // for caseExact attributes and for the others alike.
            let attribute = mapping.attribute_for(path)?;
            if !safe_for_q(value) || !safe_for_q(attribute) {
                return None;
            }
            Some((
                3,
                UserLookup::Query(UserQuery {
                    attribute: Some((attribute.to_owned(), value.clone())),
                    ..query()
                }),
            ))
        }
        _ => None,
    }
}

/// An `emails` value term: Keycloak's `email` field holds the primary email
/// only, the attribute every email, but only for users SCIM wrote; so both
/// searches, or none when the value cannot go into `q`.
fn email(op: CompareOp, value: &str) -> Option<(u8, UserLookup)> {
    if !safe_for_q(value) {
        return None;
    }
    let (rank, value, infix) = match op {
        CompareOp::Eq => (2, value.to_owned(), false),
        op if is_substring(op) && safe_for_like(value) => (5, value.to_lowercase(), true),
        _ => return None,
    };
    Some((
        rank,
        UserLookup::Union(vec![
            UserQuery {
                email: Some(value.clone()),
                infix,
                ..query()
            },
            UserQuery {
                attribute: Some((EMAIL_VALUES_ATTRIBUTE.to_owned(), value)),
                infix,
                ..query()
            },
        ]),
    ))
}

/// How to find the candidate groups for a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupLookup {
    /// `id eq "…"`: one GET by id.
    ById(String),
    /// One Keycloak group search (by exact name, by part of the name and / or
    /// by `externalId`); paging is the caller's.
    Query(GroupQuery),
    /// No pushable term: list the groups under the parent (bounded).
    Scan,
}

/// Plans the group lookup for `filter`, walking its top-level `and` terms in
/// order: an `id eq` term is answered by id; a `displayName eq` term sets the
/// exact name and ends the walk; a `displayName` `sw` / `co` / `ew` term sets
/// the part of the name to search for (a later one wins); an `externalId eq`
/// term whose value is safe for Keycloak's `q` parameter sets the attribute
/// search (a later one wins).
#[must_use]
pub fn plan_group_lookup(filter: &Filter) -> GroupLookup {
    let mut query = GroupQuery::default();
    for term in filter.conjuncts() {
        let Filter::Compare {
            path,
            op,
            value: CompValue::String(value),
        } = term
        else {
            continue;
        };
        if path.sub_attr.is_some() || value.is_empty() {
            continue;
        }
        let display_name = path.name.eq_ignore_ascii_case("displayName");
        if is_substring(*op) {
            // Keycloak escapes the name search itself: any value is safe.
            if display_name && !value.chars().any(char::is_control) {
                query.contains = Some(value.clone());
            }
            continue;
        }
        if *op != CompareOp::Eq {
            continue;
        }
        if path.name.eq_ignore_ascii_case("id") {
            return GroupLookup::ById(value.clone());
        }
        if display_name {
            query.name = Some(value.clone());
            query.contains = None;
            break;
        }
        if path.name.eq_ignore_ascii_case("externalId") && safe_for_q(value) {
            query.attribute = Some((super::EXTERNAL_ID_ATTRIBUTE.to_owned(), value.clone()));
        }
    }
    if query == GroupQuery::default() {
        GroupLookup::Scan
    } else {
        GroupLookup::Query(query)
    }
}

/// Keycloak's `q` parameter is `name:value` pairs separated by spaces.
fn safe_for_q(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || c == ':' || c.is_control())
}

/// Keycloak's `username`, `email` and `q` with `exact=false` put the value
/// unescaped into `LIKE '%value%'`: `%` and `_` are wildcards there (they
/// only widen the search), but a backslash is an escape on `PostgreSQL` and
/// `MySQL` and `[` opens a character class on SQL Server, either of which
/// could narrow it.
fn safe_for_like(s: &str) -> bool {
    !s.is_empty()
        && !s
            .chars()
            .any(|c| matches!(c, '\\' | '[' | ']') || c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::MapperTable;
    use crate::scim::parse_filter;

    fn plan(f: &str) -> UserLookup {
        let mapping = UserMapping::new(&MapperTable::defaults());
        plan_user_lookup(&parse_filter(f).expect("valid filter"), &mapping)
    }

    fn username(v: &str) -> UserLookup {
        UserLookup::Query(UserQuery {
            username: Some(v.to_owned()),
            ..UserQuery::default()
        })
    }

    fn attr(name: &str, v: &str) -> UserLookup {
        UserLookup::Query(UserQuery {
            attribute: Some((name.to_owned(), v.to_owned())),
            ..UserQuery::default()
        })
    }

    fn username_part(v: &str) -> UserLookup {
        UserLookup::Query(UserQuery {
            username: Some(v.to_owned()),
            infix: true,
            ..UserQuery::default()
        })
    }

    fn emails(v: &str, infix: bool) -> UserLookup {
        UserLookup::Union(vec![
            UserQuery {
                email: Some(v.to_owned()),
                infix,
                ..UserQuery::default()
            },
            UserQuery {
                attribute: Some(("scimEmailValues".to_owned(), v.to_owned())),
                infix,
                ..UserQuery::default()
            },
        ])
    }

    fn mail(v: &str) -> UserLookup {
        emails(v, false)
    }

    fn mail_part(v: &str) -> UserLookup {
        emails(v, true)
    }

    fn group_plan(f: &str) -> GroupLookup {
        plan_group_lookup(&parse_filter(f).expect("valid filter"))
    }

    fn group_contains(part: &str) -> GroupLookup {
        GroupLookup::Query(GroupQuery {
            contains: Some(part.to_owned()),
            ..GroupQuery::default()
        })
    }

    fn group_query(name: Option<&str>, external_id: Option<&str>) -> GroupLookup {
        GroupLookup::Query(GroupQuery {
            name: name.map(str::to_owned),
            attribute: external_id.map(|v| ("externalId".to_owned(), v.to_owned())),
            ..GroupQuery::default()
        })
    }

    #[test]
    fn table_of_group_filters_and_their_plans() {
        let rows: Vec<(&str, GroupLookup)> = vec![
            (r#"id eq "g1""#, GroupLookup::ById("g1".to_owned())),
            (r#"ID EQ "g1""#, GroupLookup::ById("g1".to_owned())),
            (
                r#"displayName eq "Sales Team""#,
                group_query(Some("Sales Team"), None),
            ),
            (r#"externalId eq "0a1b""#, group_query(None, Some("0a1b"))),
            (
                r#"externalId eq "0a1b" and displayName eq "Sales""#,
                group_query(Some("Sales"), Some("0a1b")),
            ),
            (
                r#"externalId eq "a" and externalId eq "b""#,
                group_query(None, Some("b")),
            ),
            (
                r#"externalId eq "x" and id eq "g1""#,
                GroupLookup::ById("g1".to_owned()),
            ),
            // displayName ends the walk: a later id is left to the check.
            (
                r#"displayName eq "Sales" and id eq "g1""#,
                group_query(Some("Sales"), None),
            ),
            // sw / co / ew on displayName: Keycloak's name search, which
            // escapes the value itself; an exact name wins.
            (r#"displayName sw "Sal""#, group_contains("Sal")),
            (r#"displayName co "les T""#, group_contains("les T")),
            (r#"displayName ew "%_\\*""#, group_contains(r"%_\*")),
            (
                r#"displayName co "a" and displayName eq "Sales""#,
                group_query(Some("Sales"), None),
            ),
            (
                r#"displayName eq "Sales" and displayName co "a""#,
                group_query(Some("Sales"), None),
            ),
            (
                r#"displayName co "a" and externalId eq "x""#,
                GroupLookup::Query(GroupQuery {
                    contains: Some("a".to_owned()),
                    attribute: Some(("externalId".to_owned(), "x".to_owned())),
                    ..GroupQuery::default()
                }),
            ),
            // Not pushable: disjunctions, other operators, sub-attributes,
            // empty values, values unsafe for `q`.
            (
                r#"displayName eq "a" or displayName eq "b""#,
                GroupLookup::Scan,
            ),
            (r#"displayName gt "a""#, GroupLookup::Scan),
            (r#"displayName co """#, GroupLookup::Scan),
            (r#"externalId co "a""#, GroupLookup::Scan),
            (r#"not (id eq "g1")"#, GroupLookup::Scan),
            (r#"members.value eq "u1""#, GroupLookup::Scan),
            (r#"displayName eq """#, GroupLookup::Scan),
            (r#"externalId eq "a b""#, GroupLookup::Scan),
            (r#"externalId eq "a:b""#, GroupLookup::Scan),
            (r#"externalId eq "a\u0007b""#, GroupLookup::Scan),
            (r#"externalId eq "a\u0000""#, GroupLookup::Scan),
        ];
        for (filter, expected) in rows {
            assert_eq!(group_plan(filter), expected, "{filter}");
        }
    }

    #[test]
    fn a_control_character_is_never_pushed_into_q() {
        for value in [r"a\u0007b", r"\u001b[0m", r"x\u007f"] {
            let filter = format!(r#"externalId eq "{value}""#);
            assert_eq!(plan(&filter), UserLookup::Scan, "{filter}");
            assert_eq!(group_plan(&filter), GroupLookup::Scan, "{filter}");
        }
    }

    #[test]
    fn table_of_filters_and_their_plans() {
        let rows: Vec<(&str, UserLookup)> = vec![
            (
                r#"userName eq "Alice@Contoso.com""#,
                username("Alice@Contoso.com"),
            ),
            (r#"USERNAME EQ "bob""#, username("bob")),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "bob""#,
                username("bob"),
            ),
            (r#"externalId eq "0a1b""#, attr("externalId", "0a1b")),
            (r#"emails[type eq "work"].value eq "a@b.c""#, mail("a@b.c")),
            (r#"emails.value eq "a@b.c""#, mail("a@b.c")),
            (r#"emails[value eq "a@b.c"]"#, mail("a@b.c")),
            (r#"id eq "42""#, UserLookup::ById("42".to_owned())),
            (
                r#"externalId eq "x" and userName eq "bob""#,
                username("bob"),
            ),
            (
                r#"id eq "42" and userName eq "bob""#,
                UserLookup::ById("42".to_owned()),
            ),
            (r#"displayName eq "Bob""#, attr("displayName", "Bob")),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m1""#,
                attr("manager", "m1"),
            ),
            (
                r#"urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User:tag eq "blue""#,
                attr("extensionAttribute1", "blue"),
            ),
            // Exact terms outrank sw / co / ew.
            (
                r#"userName sw "a" and externalId eq "x""#,
                attr("externalId", "x"),
            ),
            (r#"emails co "a" and userName eq "bob""#, username("bob")),
            (r#"emails co "x" and userName sw "b""#, username_part("b")),
            // Not pushable: disjunctions, other operators, unsafe values.
            (r#"userName eq "a" or userName eq "b""#, UserLookup::Scan),
            (r#"userName ne "a""#, UserLookup::Scan),
            (r#"not (userName eq "a")"#, UserLookup::Scan),
            (r#"externalId eq "a b""#, UserLookup::Scan),
            (r#"externalId eq "a:b""#, UserLookup::Scan),
            (r#"displayName eq "Bob Smith""#, UserLookup::Scan),
            (r#"userName eq """#, UserLookup::Scan),
            (r#"title eq "x""#, attr("scimTitle", "x")),
            (r"active eq true", UserLookup::Scan),
        ];
        for (filter, expected) in rows {
            assert_eq!(plan(filter), expected, "{filter}");
        }
    }

    #[test]
    fn table_of_substring_filters_and_their_plans() {
        let rows: Vec<(&str, UserLookup)> = vec![
            // userName: Keycloak's username infix search, lowercased.
            (r#"userName sw "ALI""#, username_part("ali")),
            (r#"userName co "lic""#, username_part("lic")),
            (r#"userName ew "Ice@X.org""#, username_part("ice@x.org")),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "a""#,
                username_part("a"),
            ),
            // `%` and `_` stay wildcards in Keycloak: they only widen;
            // `*` and spaces are plain characters there.
            (r#"userName co "a_b%""#, username_part("a_b%")),
            (r#"userName co "a*b c""#, username_part("a*b c")),
            // emails: the email field and every stored email value.
            (r#"emails.value co "Contoso""#, mail_part("contoso")),
            (r#"emails.value sw "a""#, mail_part("a")),
            (r#"emails ew ".ORG""#, mail_part(".org")),
            (r#"emails[value co "x"]"#, mail_part("x")),
            (
                r#"emails[type eq "work" and value sw "bo"]"#,
                mail_part("bo"),
            ),
            // Inside brackets too, an equality outranks a substring.
            (
                r#"emails[value co "b" and value eq "a@b.c"]"#,
                mail("a@b.c"),
            ),
            // Not pushable: values a LIKE pattern or `q` may read
            // differently, empty values, attributes Keycloak cannot search
            // by infix for sure (values over 255 characters are missed).
            (r#"userName co "a\\b""#, UserLookup::Scan),
            (r#"userName sw "[ab]""#, UserLookup::Scan),
            (r#"userName ew "a]""#, UserLookup::Scan),
            (r#"userName co "a\u0007""#, UserLookup::Scan),
            (r#"userName sw """#, UserLookup::Scan),
            (r#"emails.value co "a b""#, UserLookup::Scan),
            (r#"emails.value co "a:b""#, UserLookup::Scan),
            (r#"emails.value co "a\\b""#, UserLookup::Scan),
            (r#"emails.value eq "a b@c""#, UserLookup::Scan),
            (r#"emails.type co "work""#, UserLookup::Scan),
            (r#"displayName co "Bob""#, UserLookup::Scan),
            (r#"displayName sw "Bob""#, UserLookup::Scan),
            (r#"externalId sw "0a""#, UserLookup::Scan),
            (r#"name.givenName co "a""#, UserLookup::Scan),
            (r#"userName gt "a""#, UserLookup::Scan),
            (r#"userName sw "a" or userName sw "b""#, UserLookup::Scan),
        ];
        for (filter, expected) in rows {
            assert_eq!(plan(filter), expected, "{filter}");
        }
    }
}
