//! Realms: `GET`, `POST` and partial `PUT /admin/realms…`, and (for tests) tokens from a
//! realm's own token endpoint.
//!
//! Invariant: every admin path here is built by [`realms_path`].

use reqwest::Method;
use serde_json::Value;

use super::KcAdmin;
use crate::keycloak::{KcError, KcRealm};

/// `admin/realms/{tail…}`.
fn realms_path<'a>(tail: &[&'a str]) -> Vec<&'a str> {
    let mut segments = vec!["admin", "realms"];
    segments.extend_from_slice(tail);
    segments
}

impl KcAdmin {
    /// `GET /admin/realms/{r}`; `None` when the realm does not exist.
    pub async fn get_realm(&self, realm: &str) -> Result<Option<KcRealm>, KcError> {
        self.get_optional(&realms_path(&[realm])).await
    }

    /// The names of every realm the admin account can see, in one call
    /// (`GET /admin/realms?briefRepresentation=true`: id, name, display
    /// name and enabled per realm, nothing else).
    pub async fn realm_names(&self) -> Result<Vec<String>, KcError> {
        let realms: Vec<KcRealm> = self
            .get_json(
                &realms_path(&[]),
                &[("briefRepresentation", "true".to_owned())],
            )
            .await?;
        Ok(realms.into_iter().map(|r| r.realm).collect())
    }

    /// `POST /admin/realms` with a full realm representation (an import).
    pub async fn create_realm(&self, representation: &Value) -> Result<(), KcError> {
        self.write(Method::POST, &realms_path(&[]), Some(representation))
            .await
    }

    /// `PUT /admin/realms/{r}` with only the fields to change: Keycloak
    /// leaves every field the representation omits as it is.
    pub async fn update_realm_fields(&self, realm: &str, fields: &Value) -> Result<(), KcError> {
        self.write(Method::PUT, &realms_path(&[realm]), Some(fields))
            .await
    }

    /// Issues a token from a realm's token endpoint with client credentials
    /// (not the admin token; used to check what a realm's clients receive).
    #[cfg(feature = "test-support")]
    pub async fn client_credentials_token(
        &self,
        realm: &str,
        client_id: &str,
        client_secret: &str,
    ) -> Result<Value, KcError> {
        self.realm_token(
            realm,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("client_secret", client_secret),
            ],
        )
        .await
    }

    /// Issues a token from a realm's token endpoint with the password grant.
    #[cfg(feature = "test-support")]
    pub async fn password_token(
        &self,
        realm: &str,
        form: &[(&str, &str)],
    ) -> Result<Value, KcError> {
        let mut full = vec![("grant_type", "password")];
        full.extend_from_slice(form);
        self.realm_token(realm, &full).await
    }

    #[cfg(feature = "test-support")]
    async fn realm_token(&self, realm: &str, form: &[(&str, &str)]) -> Result<Value, KcError> {
        let url = self.url(&["realms", realm, "protocol", "openid-connect", "token"]);
        let response = self
            .inner
            .http
            .client()
            .post(url.clone())
            .form(form)
            .send()
            .await
            .map_err(|e| KcError::from_transport(url.as_str(), &e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| KcError::from_transport(url.as_str(), &e))?;
        if !status.is_success() {
            return Err(KcError::from_status(status.as_u16(), "token", &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| KcError::Protocol(format!("token: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::realms_path;

    #[test]
    fn realms_path_puts_the_tail_below_admin_realms() {
        assert_eq!(realms_path(&[]), ["admin", "realms"]);
        assert_eq!(realms_path(&["demo"]), ["admin", "realms", "demo"]);
    }
}
