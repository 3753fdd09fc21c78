//! Filter pushdown: which single Keycloak query returns a superset of the
//! users (or groups) a SCIM filter selects. The full filter is always evaluated on the
//! candidates afterwards, so a plan may over-select but never under-select.
//!
//! Invariant: a value that would change the meaning of a Keycloak query
//! parameter (the `q=name:value` syntax splits on spaces and colons) is never
//! pushed down; such a term falls back to a bounded scan.

use crate::keycloak::{GroupQuery, UserQuery};
use crate::scim::{AttrPath, CompValue, CompareOp, Filter};

use super::user::UserMapping;

/// How to find the candidate users for a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserLookup {
    /// `id eq "…"`: one GET by id.
    ById(String),
    /// One Keycloak search.
    Query(UserQuery),
    /// No pushable term: scan the realm (bounded).
    Scan,
}

/// Plans the lookup for `filter`: the first pushable top-level `and` term,
/// preferring the most selective (id, userName, email, then attributes).
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

fn pushable(term: &Filter, mapping: &UserMapping) -> Option<(u8, UserLookup)> {
    match term {
        Filter::ValuePath(vp) if is(&vp.attr, "emails", None) => {
            // emails[type eq "work" and value eq "x"] (Entra's
            // `emails[type eq "work"].value eq "x"` parses to this).
            vp.filter.conjuncts().into_iter().find_map(|inner| {
                let (path, value) = inner.as_eq_string()?;
                (path.schema.is_none() && path.name.eq_ignore_ascii_case("value"))
                    .then(|| email(value))
                    .flatten()
            })
        }
        Filter::Compare {
            path,
            op: CompareOp::Eq,
            value: CompValue::String(value),
        } => {
            if value.is_empty() {
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
            if is(path, "emails", Some("value")) || is(path, "emails", None) {
                return email(value);
            }
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

fn email(value: &str) -> Option<(u8, UserLookup)> {
    (!value.is_empty()).then(|| {
        (
            2,
            UserLookup::Query(UserQuery {
                email: Some(value.to_owned()),
                ..query()
            }),
        )
    })
}

/// How to find the candidate groups for a filter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupLookup {
    /// `id eq "…"`: one GET by id.
    ById(String),
    /// One Keycloak group search (by exact name and / or `externalId`);
    /// paging is the caller's.
    Query(GroupQuery),
    /// No pushable term: list the groups under the parent (bounded).
    Scan,
}

/// Plans the group lookup for `filter`, walking its top-level `and` terms in
/// order: an `id eq` term is answered by id; a `displayName eq` term sets the
/// exact name and ends the walk; an `externalId eq` term whose value is safe
/// for Keycloak's `q` parameter sets the attribute search (a later one wins).
#[must_use]
pub fn plan_group_lookup(filter: &Filter) -> GroupLookup {
    let mut query = GroupQuery::default();
    for term in filter.conjuncts() {
        let Some((path, value)) = term.as_eq_string() else {
            continue;
        };
        if path.sub_attr.is_some() || value.is_empty() {
            continue;
        }
        if path.name.eq_ignore_ascii_case("id") {
            return GroupLookup::ById(value.to_owned());
        }
        if path.name.eq_ignore_ascii_case("displayName") {
            query.name = Some(value.to_owned());
            break;
        }
        if path.name.eq_ignore_ascii_case("externalId") && safe_for_q(value) {
            query.attribute = Some((super::EXTERNAL_ID_ATTRIBUTE.to_owned(), value.to_owned()));
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

    fn mail(v: &str) -> UserLookup {
        UserLookup::Query(UserQuery {
            email: Some(v.to_owned()),
            ..UserQuery::default()
        })
    }

    fn group_plan(f: &str) -> GroupLookup {
        plan_group_lookup(&parse_filter(f).expect("valid filter"))
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
            // Not pushable: disjunctions, other operators, sub-attributes,
            // empty values, values unsafe for `q`.
            (
                r#"displayName eq "a" or displayName eq "b""#,
                GroupLookup::Scan,
            ),
            (r#"displayName sw "a""#, GroupLookup::Scan),
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
            // Not pushable: disjunctions, other operators, unsafe values.
            (r#"userName eq "a" or userName eq "b""#, UserLookup::Scan),
            (r#"userName sw "a""#, UserLookup::Scan),
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
}
