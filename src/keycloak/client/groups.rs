//! Groups of a realm: lookup by id, path and query, create, update, delete,
//! and paged direct members.
//!
//! Invariant: every path here is built by [`groups_path`] (`group-by-path`,
//! a sibling of `groups`, goes through `realm_path` directly).

use reqwest::Method;
use serde_json::Value;

use super::{realm_path, KcAdmin};
use crate::keycloak::{KcError, KcGroup, KcUser};

/// Search parameters of `GET /admin/realms/{r}/groups` (and `…/children`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupQuery {
    /// `search` with `exact=true` (Keycloak compares names case-sensitively).
    pub name: Option<String>,
    /// `search=*value*`: names containing `value`, ignoring case (Keycloak
    /// escapes `%`, `_` and backslashes; `*` is its wildcard). Top level, a group
    /// also comes back when one of its descendants matches. Unused when
    /// `name` is set.
    pub contains: Option<String>,
    /// `q=name:value` attribute search.
    pub attribute: Option<(String, String)>,
    /// Offset.
    pub first: usize,
    /// Page size.
    pub max: usize,
}

/// `admin/realms/{realm}/groups/{tail…}`.
fn groups_path<'a>(realm: &'a str, tail: &[&'a str]) -> Vec<&'a str> {
    let mut segments = realm_path(realm, &["groups"]);
    segments.extend_from_slice(tail);
    segments
}

impl KcAdmin {
    /// A group by id; `None` when there is none.
    pub async fn get_group(&self, realm: &str, id: &str) -> Result<Option<KcGroup>, KcError> {
        self.get_optional(&groups_path(realm, &[id])).await
    }

    /// A group by path (`/parent/child`); `None` when there is none.
    pub async fn group_by_path(&self, realm: &str, path: &str) -> Result<Option<KcGroup>, KcError> {
        let mut segments = realm_path(realm, &["group-by-path"]);
        segments.extend(path.split('/').filter(|s| !s.is_empty()));
        self.get_optional(&segments).await
    }

    /// Creates a group at top level, or under `parent`; returns its id.
    pub async fn create_group(
        &self,
        realm: &str,
        parent: Option<&str>,
        group: &KcGroup,
    ) -> Result<String, KcError> {
        match parent {
            None => self.create(&groups_path(realm, &[]), group).await,
            Some(p) => {
                self.create(&groups_path(realm, &[p, "children"]), group)
                    .await
            }
        }
    }

    /// Updates a group's name and attributes.
    pub async fn update_group(
        &self,
        realm: &str,
        id: &str,
        group: &KcGroup,
    ) -> Result<(), KcError> {
        self.write(Method::PUT, &groups_path(realm, &[id]), Some(group))
            .await
    }

    /// Deletes a group.
    pub async fn delete_group(&self, realm: &str, id: &str) -> Result<(), KcError> {
        self.write::<Value>(Method::DELETE, &groups_path(realm, &[id]), None)
            .await
    }

    /// Groups at top level (or the children of `parent`), optionally only
    /// those named exactly `name` (else containing `contains`) or whose
    /// attribute matches `attribute`.
    pub async fn find_groups(
        &self,
        realm: &str,
        parent: Option<&str>,
        query: &GroupQuery,
    ) -> Result<Vec<KcGroup>, KcError> {
        let mut params = vec![
            ("briefRepresentation", "false".to_owned()),
            ("first", query.first.to_string()),
            ("max", query.max.to_string()),
        ];
        if let Some(name) = &query.name {
            params.push(("search", name.clone()));
            params.push(("exact", "true".to_owned()));
        } else if let Some(part) = &query.contains {
            // The children endpoint matches prefixes only: the leading `*`
            // makes both endpoints match anywhere in the name.
            params.push(("search", format!("*{part}*")));
        }
        if let Some((k, v)) = &query.attribute {
            params.push(("q", format!("{k}:{v}")));
        }
        match parent {
            None => self.get_json(&groups_path(realm, &[]), &params).await,
            Some(p) => {
                self.get_json(&groups_path(realm, &[p, "children"]), &params)
                    .await
            }
        }
    }

    /// A page of a group's direct members (brief representations).
    pub async fn group_members(
        &self,
        realm: &str,
        group: &str,
        first: usize,
        max: usize,
    ) -> Result<Vec<KcUser>, KcError> {
        self.get_json(
            &groups_path(realm, &[group, "members"]),
            &[
                ("briefRepresentation", "true".to_owned()),
                ("first", first.to_string()),
                ("max", max.to_string()),
            ],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::groups_path;

    #[test]
    fn groups_path_puts_the_tail_below_the_realms_groups() {
        assert_eq!(
            groups_path("demo", &["g1", "children"]),
            ["admin", "realms", "demo", "groups", "g1", "children"]
        );
    }
}
