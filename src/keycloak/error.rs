//! Keycloak's answers as typed errors. Keycloak's own message text is kept for
//! the log and for mapping decisions; the SCIM layer decides what a client
//! may see.

use serde::Deserialize;
use serde_json::Value;

/// One field-level complaint of Keycloak's user-profile validation.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KcFieldError {
    /// The attribute Keycloak complains about (`email`, `username`, an attribute name).
    #[serde(default)]
    pub field: Option<String>,
    /// Keycloak's message key, such as `error-invalid-email`.
    #[serde(default, rename = "errorMessage")]
    pub message: String,
}

/// Everything that can go wrong talking to Keycloak.
#[derive(Debug, thiserror::Error)]
pub enum KcError {
    /// No connection could be made, or it broke.
    #[error("Keycloak is unreachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// Keycloak did not answer within the configured timeout.
    #[error("Keycloak did not answer within the timeout ({url})")]
    Timeout { url: String },
    /// The admin credentials were refused by the token endpoint.
    #[error("Keycloak refused the admin credentials: {0}")]
    AdminAuth(String),
    /// The admin account lacks a role for this call.
    #[error("Keycloak denied access (403) to {0}: the admin account lacks a role for it")]
    Forbidden(String),
    /// The object does not exist.
    #[error("not found in Keycloak: {0}")]
    NotFound(String),
    /// A uniqueness conflict (409), with Keycloak's message.
    #[error("conflict in Keycloak: {0}")]
    Conflict(String),
    /// A 400 with Keycloak's message and, for user-profile failures, the fields.
    #[error("Keycloak rejected the request: {message}")]
    BadRequest {
        message: String,
        errors: Vec<KcFieldError>,
    },
    /// Any other non-success status.
    #[error("Keycloak answered {status}: {message}")]
    Status { status: u16, message: String },
    /// A success status whose body was not what the Admin API documents.
    #[error("unexpected answer from Keycloak: {0}")]
    Protocol(String),
}

impl KcError {
    /// Whether Keycloak is down or overloaded (the client should retry later).
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unreachable { .. } | Self::Timeout { .. } => true,
            Self::Status { status, .. } => matches!(status, 502..=504),
            _ => false,
        }
    }

    pub(crate) fn from_transport(url: &str, err: &reqwest::Error) -> Self {
        if err.is_timeout() {
            Self::Timeout {
                url: url.to_owned(),
            }
        } else {
            // The innermost cause is the useful part ("Connection refused").
            let mut reason = err.to_string();
            let mut source = std::error::Error::source(err);
            while let Some(inner) = source {
                reason = inner.to_string();
                source = inner.source();
            }
            Self::Unreachable {
                url: url.to_owned(),
                reason,
            }
        }
    }

    /// Builds the error for a non-success status from Keycloak's body.
    pub(crate) fn from_status(status: u16, what: &str, body: &[u8]) -> Self {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let message = parsed
            .as_ref()
            .and_then(error_message)
            .unwrap_or_else(|| String::from_utf8_lossy(body).chars().take(200).collect());
        match status {
            400 => {
                let errors = parsed.as_ref().map(field_errors).unwrap_or_default();
                Self::BadRequest { message, errors }
            }
            403 => Self::Forbidden(what.to_owned()),
            404 => Self::NotFound(what.to_owned()),
            409 => Self::Conflict(message),
            _ => Self::Status { status, message },
        }
    }
}

fn error_message(body: &Value) -> Option<String> {
    for key in ["errorMessage", "error_description", "error"] {
        if let Some(text) = body.get(key).and_then(Value::as_str) {
            return Some(text.to_owned());
        }
    }
    body.get("errors")
        .and_then(Value::as_array)
        .and_then(|errors| errors.first())
        .and_then(error_message)
}

fn field_errors(body: &Value) -> Vec<KcFieldError> {
    if let Some(list) = body.get("errors").and_then(Value::as_array) {
        return list
            .iter()
            .filter_map(|e| serde_json::from_value(e.clone()).ok())
            .collect();
    }
    if body.get("field").is_some() {
        if let Ok(one) = serde_json::from_value(body.clone()) {
            return vec![one];
        }
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_keeps_keycloaks_message() {
        let e = KcError::from_status(
            409,
            "users",
            br#"{"errorMessage":"User exists with same username"}"#,
        );
        assert!(matches!(e, KcError::Conflict(m) if m == "User exists with same username"));
    }

    #[test]
    fn user_profile_errors_name_the_field() {
        let e = KcError::from_status(
            400,
            "users",
            br#"{"field":"email","errorMessage":"error-invalid-email","params":["email","x"]}"#,
        );
        let KcError::BadRequest { errors, .. } = e else {
            panic!("expected BadRequest")
        };
        assert_eq!(errors[0].field.as_deref(), Some("email"));
    }

    #[test]
    fn several_field_errors_are_all_kept() {
        let e = KcError::from_status(
            400,
            "users",
            br#"{"errors":[{"field":"firstName","errorMessage":"a"},{"field":"lastName","errorMessage":"b"}]}"#,
        );
        let KcError::BadRequest { errors, message } = e else {
            panic!("expected BadRequest")
        };
        assert_eq!(errors.len(), 2);
        assert_eq!(message, "a");
    }

    #[test]
    fn non_json_body_is_truncated_text() {
        let body = vec![b'x'; 1000];
        let KcError::Status { message, .. } = KcError::from_status(500, "x", &body) else {
            panic!("expected Status")
        };
        assert_eq!(message.len(), 200);
    }
}
