//! Authentication flows and required actions of a realm: list flows and
//! their executions, create a flow, add executions and sub-flows, set an
//! execution's requirement, give an execution its configuration, remove an
//! execution, read and update a required action.
//!
//! Invariant: every path here is built by [`flows_path`]; flows are
//! addressed by alias, which Keycloak keeps unique per realm.

use reqwest::Method;
use serde_json::{json, Value};

use super::{realm_path, KcAdmin};
use crate::keycloak::KcError;

/// `admin/realms/{realm}/authentication/{tail…}`.
fn flows_path<'a>(realm: &'a str, tail: &[&'a str]) -> Vec<&'a str> {
    let mut segments = realm_path(realm, &["authentication"]);
    segments.extend_from_slice(tail);
    segments
}

impl KcAdmin {
    /// The realm's top-level flows (`GET …/authentication/flows`), as JSON.
    pub async fn flows(&self, realm: &str) -> Result<Vec<Value>, KcError> {
        self.get_json(&flows_path(realm, &["flows"]), &[]).await
    }

    /// The executions of a flow and its sub-flows, depth first, each with
    /// its `level`, `index`, `requirement` and `providerId` (or
    /// `authenticationFlow` and `displayName` for a sub-flow).
    pub async fn flow_executions(&self, realm: &str, alias: &str) -> Result<Vec<Value>, KcError> {
        self.get_json(&flows_path(realm, &["flows", alias, "executions"]), &[])
            .await
    }

    /// Creates an empty top-level flow of the `basic-flow` kind.
    pub async fn create_flow(
        &self,
        realm: &str,
        alias: &str,
        description: &str,
    ) -> Result<(), KcError> {
        let body = json!({
            "alias": alias,
            "description": description,
            "providerId": "basic-flow",
            "topLevel": true,
            "builtIn": false,
        });
        self.write(Method::POST, &flows_path(realm, &["flows"]), Some(&body))
            .await
    }

    /// Appends an authenticator execution (created `DISABLED`) to a flow.
    pub async fn add_flow_execution(
        &self,
        realm: &str,
        flow: &str,
        provider: &str,
    ) -> Result<(), KcError> {
        self.append_to_flow(realm, flow, "execution", &json!({ "provider": provider }))
            .await
    }

    /// Appends a `basic-flow` sub-flow (created `DISABLED`) to a flow.
    pub async fn add_subflow(
        &self,
        realm: &str,
        flow: &str,
        alias: &str,
        description: &str,
    ) -> Result<(), KcError> {
        let body = json!({
            "alias": alias,
            "description": description,
            "type": "basic-flow",
            "provider": "registration-page-form",
        });
        self.append_to_flow(realm, flow, "flow", &body).await
    }

    /// `POST …/flows/{flow}/executions/{kind}` (`execution` or `flow`).
    async fn append_to_flow(
        &self,
        realm: &str,
        flow: &str,
        kind: &str,
        body: &Value,
    ) -> Result<(), KcError> {
        self.write(
            Method::POST,
            &flows_path(realm, &["flows", flow, "executions", kind]),
            Some(body),
        )
        .await
    }

    /// Writes an execution as `flow_executions` listed it (its requirement).
    pub async fn update_flow_execution(
        &self,
        realm: &str,
        flow: &str,
        execution: &Value,
    ) -> Result<(), KcError> {
        self.write(
            Method::PUT,
            &flows_path(realm, &["flows", flow, "executions"]),
            Some(execution),
        )
        .await
    }

    /// An authenticator configuration by id (`authenticationConfig` of a
    /// listed execution); `None` when there is none of that id.
    pub async fn authenticator_config(
        &self,
        realm: &str,
        id: &str,
    ) -> Result<Option<Value>, KcError> {
        self.get_optional(&flows_path(realm, &["config", id])).await
    }

    /// Gives an execution (by id) a new configuration named `alias`.
    pub async fn add_execution_config(
        &self,
        realm: &str,
        execution: &str,
        alias: &str,
        config: &Value,
    ) -> Result<(), KcError> {
        let body = json!({ "alias": alias, "config": config });
        self.write(
            Method::POST,
            &flows_path(realm, &["executions", execution, "config"]),
            Some(&body),
        )
        .await
    }

    /// Replaces an authenticator configuration (as `authenticator_config`
    /// returned it), for tests that change what an admin could.
    #[cfg(feature = "test-support")]
    pub async fn update_authenticator_config(
        &self,
        realm: &str,
        config: &Value,
    ) -> Result<(), KcError> {
        let id = config.get("id").and_then(Value::as_str).unwrap_or_default();
        self.write(
            Method::PUT,
            &flows_path(realm, &["config", id]),
            Some(config),
        )
        .await
    }

    /// Removes an execution (by id) from its flow.
    pub async fn delete_flow_execution(&self, realm: &str, execution: &str) -> Result<(), KcError> {
        self.write::<Value>(
            Method::DELETE,
            &flows_path(realm, &["executions", execution]),
            None,
        )
        .await
    }

    /// A required action by alias; `None` when the realm has none of that name.
    pub async fn required_action(
        &self,
        realm: &str,
        alias: &str,
    ) -> Result<Option<Value>, KcError> {
        self.get_optional(&flows_path(realm, &["required-actions", alias]))
            .await
    }

    /// Replaces a required action's representation (e.g. to enable it).
    pub async fn update_required_action(
        &self,
        realm: &str,
        alias: &str,
        action: &Value,
    ) -> Result<(), KcError> {
        self.write(
            Method::PUT,
            &flows_path(realm, &["required-actions", alias]),
            Some(action),
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::flows_path;

    #[test]
    fn flows_path_puts_the_tail_below_the_realms_authentication() {
        assert_eq!(
            flows_path("demo", &["flows", "f", "executions"]),
            [
                "admin",
                "realms",
                "demo",
                "authentication",
                "flows",
                "f",
                "executions"
            ]
        );
    }
}
