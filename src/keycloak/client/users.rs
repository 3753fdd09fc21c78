//! Users of a realm: search and count, read, create, update, delete, the
//! user profile, passwords (tests), and a user's direct group memberships.
//!
//! Invariant: every path here is built by [`users_path`].

use reqwest::Method;
use serde_json::Value;

use super::{realm_path, KcAdmin};
use crate::keycloak::{KcError, KcGroup, KcUser};

/// Search parameters of `GET /admin/realms/{r}/users`.
///
/// Keycloak 26 compares `username`, `email` and the `q` value ignoring case;
/// one `exact` flag governs all three: equality, or with `exact=false` a
/// SQL `LIKE '%value%'` whose `%` and `_` stay wildcards (an attribute value
/// longer than 255 characters is then never found).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserQuery {
    /// `username`.
    pub username: Option<String>,
    /// `email`.
    pub email: Option<String>,
    /// `q=name:value` attribute search.
    pub attribute: Option<(String, String)>,
    /// `exact=false`: `username`, `email` and `attribute` match by infix
    /// instead of equality.
    pub infix: bool,
    /// `search`: every whitespace-separated word is a prefix of the
    /// username, email, first or last name (`*` is a wildcard).
    pub search: Option<String>,
    /// Offset (`first`).
    pub first: usize,
    /// Page size (`max`).
    pub max: usize,
}

impl UserQuery {
    fn params(&self) -> Vec<(&'static str, String)> {
        let mut p = vec![
            ("briefRepresentation", "false".to_owned()),
            ("first", self.first.to_string()),
            ("max", self.max.to_string()),
        ];
        self.push_filters(&mut p);
        p
    }

    fn push_filters(&self, p: &mut Vec<(&'static str, String)>) {
        if let Some(u) = &self.username {
            p.push(("username", u.clone()));
        }
        if let Some(e) = &self.email {
            p.push(("email", e.clone()));
        }
        if let Some((name, value)) = &self.attribute {
            p.push(("q", format!("{name}:{value}")));
        }
        if self.username.is_some() || self.email.is_some() || self.attribute.is_some() {
            let exact = if self.infix { "false" } else { "true" };
            p.push(("exact", exact.to_owned()));
        }
        if let Some(s) = &self.search {
            p.push(("search", s.clone()));
        }
    }
}

/// `admin/realms/{realm}/users/{tail…}`.
fn users_path<'a>(realm: &'a str, tail: &[&'a str]) -> Vec<&'a str> {
    let mut segments = realm_path(realm, &["users"]);
    segments.extend_from_slice(tail);
    segments
}

impl KcAdmin {
    /// The ids of the user's Keycloak sessions (`GET …/users/{id}/sessions`).
    pub async fn user_session_ids(&self, realm: &str, id: &str) -> Result<Vec<String>, KcError> {
        let sessions: Vec<Value> = self
            .get_json(&users_path(realm, &[id, "sessions"]), &[])
            .await?;
        Ok(sessions
            .iter()
            .filter_map(|s| s.get("id").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    /// The realm's user-profile configuration (kept as JSON: we only touch
    /// `attributes` and carry everything else through).
    pub async fn user_profile(&self, realm: &str) -> Result<Value, KcError> {
        self.get_json(&users_path(realm, &["profile"]), &[]).await
    }

    /// Replaces the realm's user-profile configuration.
    pub async fn update_user_profile(&self, realm: &str, profile: &Value) -> Result<(), KcError> {
        self.write(Method::PUT, &users_path(realm, &["profile"]), Some(profile))
            .await
    }

    /// Creates a user; returns its id.
    pub async fn create_user(&self, realm: &str, user: &KcUser) -> Result<String, KcError> {
        self.create(&users_path(realm, &[]), user).await
    }

    /// A user by id; `None` when there is none.
    pub async fn get_user(&self, realm: &str, id: &str) -> Result<Option<KcUser>, KcError> {
        self.get_optional(&users_path(realm, &[id])).await
    }

    /// Replaces a user representation (attributes are replaced whole).
    pub async fn update_user(&self, realm: &str, id: &str, user: &KcUser) -> Result<(), KcError> {
        self.write(Method::PUT, &users_path(realm, &[id]), Some(user))
            .await
    }

    /// Whether the user has links to an identity provider
    /// (`GET …/users/{id}/federated-identity` is not empty).
    pub async fn has_identity_provider_links(
        &self,
        realm: &str,
        id: &str,
    ) -> Result<bool, KcError> {
        let links: Vec<Value> = self
            .get_json(&users_path(realm, &[id, "federated-identity"]), &[])
            .await?;
        Ok(!links.is_empty())
    }

    /// Deletes a user.
    pub async fn delete_user(&self, realm: &str, id: &str) -> Result<(), KcError> {
        self.write::<Value>(Method::DELETE, &users_path(realm, &[id]), None)
            .await
    }

    /// Searches users.
    pub async fn find_users(&self, realm: &str, query: &UserQuery) -> Result<Vec<KcUser>, KcError> {
        self.get_json(&users_path(realm, &[]), &query.params())
            .await
    }

    /// Counts the users a query would return (paging ignored).
    pub async fn count_users(&self, realm: &str, query: &UserQuery) -> Result<usize, KcError> {
        let mut params = Vec::new();
        query.push_filters(&mut params);
        self.get_json(&users_path(realm, &["count"]), &params).await
    }

    /// Sets a user's password (tests and demos).
    #[cfg(feature = "test-support")]
    pub async fn set_password(
        &self,
        realm: &str,
        id: &str,
        password: &str,
        temporary: bool,
    ) -> Result<(), KcError> {
        let body =
            serde_json::json!({"type": "password", "value": password, "temporary": temporary});
        self.write(
            Method::PUT,
            &users_path(realm, &[id, "reset-password"]),
            Some(&body),
        )
        .await
    }

    /// Makes a user a direct member of a group (idempotent in Keycloak).
    pub async fn add_group_member(
        &self,
        realm: &str,
        user: &str,
        group: &str,
    ) -> Result<(), KcError> {
        self.write::<Value>(
            Method::PUT,
            &users_path(realm, &[user, "groups", group]),
            None,
        )
        .await
    }

    /// Removes a user from a group (idempotent in Keycloak).
    pub async fn remove_group_member(
        &self,
        realm: &str,
        user: &str,
        group: &str,
    ) -> Result<(), KcError> {
        self.write::<Value>(
            Method::DELETE,
            &users_path(realm, &[user, "groups", group]),
            None,
        )
        .await
    }

    /// `PUT …/users/{id}/execute-actions-email`: Keycloak emails the user a
    /// link that runs `actions` (required-action provider ids), valid for
    /// `lifespan_secs`, and returns to `redirect_uri` of `client_id` when
    /// done. Keycloak refuses a `redirect_uri` without a `client_id`, one the
    /// client does not allow (it compares it against the realm's frontend
    /// URL), and answers 500 when the realm cannot send email.
    pub async fn execute_actions_email(
        &self,
        realm: &str,
        id: &str,
        actions: &[&str],
        lifespan_secs: u64,
        client_id: &str,
        redirect_uri: &str,
    ) -> Result<(), KcError> {
        let body = serde_json::json!(actions);
        let query = [
            ("lifespan", lifespan_secs.to_string()),
            ("client_id", client_id.to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
        ];
        self.call(
            Method::PUT,
            &users_path(realm, &[id, "execute-actions-email"]),
            &query,
            Some(&body),
        )
        .await?;
        Ok(())
    }

    /// `POST …/users/{id}/logout`: ends every session of the user (their
    /// refresh tokens stop working).
    pub async fn logout_user(&self, realm: &str, id: &str) -> Result<(), KcError> {
        self.write::<Value>(Method::POST, &users_path(realm, &[id, "logout"]), None)
            .await
    }

    /// The credential types the user has (`password`, `webauthn-passwordless`, …).
    pub async fn credential_types(&self, realm: &str, id: &str) -> Result<Vec<String>, KcError> {
        let creds: Vec<Value> = self
            .get_json(&users_path(realm, &[id, "credentials"]), &[])
            .await?;
        Ok(creds
            .iter()
            .filter_map(|c| c.get("type").and_then(Value::as_str).map(str::to_owned))
            .collect())
    }

    /// The groups a user is a direct member of.
    pub async fn user_groups(&self, realm: &str, user: &str) -> Result<Vec<KcGroup>, KcError> {
        self.get_json(
            &users_path(realm, &[user, "groups"]),
            &[
                ("briefRepresentation", "false".to_owned()),
                ("max", "1000".to_owned()),
            ],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::{users_path, UserQuery};

    #[test]
    fn users_path_puts_the_tail_below_the_realms_users() {
        assert_eq!(
            users_path("demo", &[]),
            ["admin", "realms", "demo", "users"]
        );
        assert_eq!(
            users_path("demo", &["u1", "groups", "g1"]),
            ["admin", "realms", "demo", "users", "u1", "groups", "g1"]
        );
    }

    #[test]
    fn user_query_asks_exact_false_only_when_infix() {
        let exact_of = |q: &UserQuery| {
            q.params()
                .into_iter()
                .find(|(n, _)| *n == "exact")
                .map(|(_, v)| v)
        };
        let attribute = UserQuery {
            attribute: Some(("scimEmailValues".to_owned(), "a@b.c".to_owned())),
            ..UserQuery::default()
        };
        assert_eq!(exact_of(&attribute).as_deref(), Some("true"));
        let infix = UserQuery {
            infix: true,
            ..attribute
        };
        assert_eq!(exact_of(&infix).as_deref(), Some("false"));
        let email = UserQuery {
            email: Some("ann".to_owned()),
            infix: true,
            ..UserQuery::default()
        };
        assert_eq!(exact_of(&email).as_deref(), Some("false"));
        assert_eq!(exact_of(&UserQuery::default()), None);
    }

    #[test]
    fn user_query_asks_exact_only_for_username_or_email() {
        let by_name = UserQuery {
            username: Some("ann".to_owned()),
            max: 10,
            ..UserQuery::default()
        };
        let by_search = UserQuery {
            search: Some("an".to_owned()),
            max: 10,
            ..UserQuery::default()
        };
        let has = |q: &UserQuery, k: &str| q.params().iter().any(|(n, _)| *n == k);
        assert!(has(&by_name, "exact"));
        assert!(!has(&by_search, "exact"));
        assert!(has(&by_search, "search"));
    }
}
