//! Clients of a realm: lookup, create and update, the secret, default client
//! scopes, protocol mappers, and the service-account user.
//!
//! Invariant: every path here is built by [`clients_path`].

use reqwest::Method;
use serde_json::Value;

use super::{realm_path, KcAdmin};
use crate::keycloak::{KcClient, KcError, KcProtocolMapper, KcUser};

/// `admin/realms/{realm}/clients/{tail…}`.
fn clients_path<'a>(realm: &'a str, tail: &[&'a str]) -> Vec<&'a str> {
    let mut segments = realm_path(realm, &["clients"]);
    segments.extend_from_slice(tail);
    segments
}

impl KcAdmin {
    /// The client with `clientId`, if any.
    pub async fn find_client(
        &self,
        realm: &str,
        client_id: &str,
    ) -> Result<Option<KcClient>, KcError> {
        let found: Vec<KcClient> = self
            .get_json(
                &clients_path(realm, &[]),
                &[("clientId", client_id.to_owned())],
            )
            .await?;
        Ok(found.into_iter().find(|c| c.client_id == client_id))
    }

    /// Up to `max` clients of the realm (`GET …/clients?max=`).
    pub async fn list_clients(&self, realm: &str, max: usize) -> Result<Vec<KcClient>, KcError> {
        self.get_json(&clients_path(realm, &[]), &[("max", max.to_string())])
            .await
    }

    /// The service-account user of a client (by internal id); `None` when the
    /// client has none.
    pub async fn service_account_user(
        &self,
        realm: &str,
        client: &str,
    ) -> Result<Option<KcUser>, KcError> {
        self.get_optional(&clients_path(realm, &[client, "service-account-user"]))
            .await
    }

    /// Creates a client; returns its internal id.
    pub async fn create_client(&self, realm: &str, client: &KcClient) -> Result<String, KcError> {
        self.create(&clients_path(realm, &[]), client).await
    }

    /// Replaces a client representation.
    pub async fn update_client(
        &self,
        realm: &str,
        id: &str,
        client: &KcClient,
    ) -> Result<(), KcError> {
        self.write(Method::PUT, &clients_path(realm, &[id]), Some(client))
            .await
    }

    /// The secret of a confidential client.
    #[cfg(feature = "test-support")]
    pub async fn client_secret(&self, realm: &str, id: &str) -> Result<String, KcError> {
        let v: Value = self
            .get_json(&clients_path(realm, &[id, "client-secret"]), &[])
            .await?;
        v.get("value")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| KcError::Protocol("client-secret without value".to_owned()))
    }

    /// The default client scopes of a client, as `(id, name)`.
    pub async fn default_client_scopes(
        &self,
        realm: &str,
        client: &str,
    ) -> Result<Vec<(String, String)>, KcError> {
        let scopes: Vec<Value> = self
            .get_json(
                &clients_path(realm, &[client, "default-client-scopes"]),
                &[],
            )
            .await?;
        Ok(scopes
            .iter()
            .filter_map(|s| {
                Some((
                    s.get("id")?.as_str()?.to_owned(),
                    s.get("name")?.as_str()?.to_owned(),
                ))
            })
            .collect())
    }

    /// Detaches a default client scope from a client.
    pub async fn remove_default_client_scope(
        &self,
        realm: &str,
        client: &str,
        scope_id: &str,
    ) -> Result<(), KcError> {
        self.write::<Value>(
            Method::DELETE,
            &clients_path(realm, &[client, "default-client-scopes", scope_id]),
            None,
        )
        .await
    }

    /// The protocol mappers of a client (its dedicated scope).
    pub async fn protocol_mappers(
        &self,
        realm: &str,
        client: &str,
    ) -> Result<Vec<KcProtocolMapper>, KcError> {
        self.get_json(
            &clients_path(realm, &[client, "protocol-mappers", "models"]),
            &[],
        )
        .await
    }

    /// Adds a protocol mapper to a client.
    pub async fn create_protocol_mapper(
        &self,
        realm: &str,
        client: &str,
        mapper: &KcProtocolMapper,
    ) -> Result<String, KcError> {
        self.create(
            &clients_path(realm, &[client, "protocol-mappers", "models"]),
            mapper,
        )
        .await
    }

    /// Replaces a protocol mapper (its `id` must be set).
    pub async fn update_protocol_mapper(
        &self,
        realm: &str,
        client: &str,
        mapper: &KcProtocolMapper,
    ) -> Result<(), KcError> {
        let id = mapper
            .id
            .as_deref()
            .ok_or_else(|| KcError::Protocol("mapper without id".to_owned()))?;
        self.write(
            Method::PUT,
            &clients_path(realm, &[client, "protocol-mappers", "models", id]),
            Some(mapper),
        )
        .await
    }

    /// Deletes a protocol mapper.
    #[cfg(feature = "test-support")]
    pub async fn delete_protocol_mapper(
        &self,
        realm: &str,
        client: &str,
        id: &str,
    ) -> Result<(), KcError> {
        self.write::<Value>(
            Method::DELETE,
            &clients_path(realm, &[client, "protocol-mappers", "models", id]),
            None,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::clients_path;

    #[test]
    fn clients_path_puts_the_tail_below_the_realms_clients() {
        assert_eq!(
            clients_path("demo", &[]),
            ["admin", "realms", "demo", "clients"]
        );
        assert_eq!(
            clients_path("demo", &["c1", "protocol-mappers", "models"]),
            [
                "admin",
                "realms",
                "demo",
                "clients",
                "c1",
                "protocol-mappers",
                "models"
            ]
        );
    }
}
