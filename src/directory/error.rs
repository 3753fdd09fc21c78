//! Errors of the directory port: what went wrong in SCIM terms, with
//! Keycloak's own text kept for the log only.

use crate::keycloak::KcError;
use crate::scim::ScimError;

/// An error of a directory operation.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// A client error already in SCIM terms (invalid value, filter, path…).
    #[error(transparent)]
    Scim(#[from] ScimError),
    /// The resource (or realm) does not exist, or SCIM is off for the realm.
    #[error("{0}")]
    NotFound(String),
    /// A uniqueness conflict.
    #[error("{0}")]
    Conflict(String),
    /// The resource is protected from SCIM writes.
    #[error("{0}")]
    Forbidden(String),
    /// `If-Match` did not match the current version.
    #[error("the resource was modified: If-Match does not match version {current}")]
    PreconditionFailed {
        /// The current version.
        current: String,
    },
    /// Keycloak is down, slow or overloaded; retry after the given seconds.
    #[error("{detail}")]
    Unavailable {
        /// What is unavailable.
        detail: String,
        /// Suggested `Retry-After`, in seconds.
        retry_after: u64,
    },
    /// The realm has too many operations in flight; retry shortly.
    #[error("too many SCIM operations in flight for this realm; retry shortly")]
    Busy {
        /// Suggested `Retry-After`, in seconds.
        retry_after: u64,
    },
    /// The mass-deprovision breaker is open: disables and deletes are refused.
    #[error(
        "the mass-deprovision breaker of this realm tripped at {since}; disables and deletes \
         are refused until an administrator runs `kc-scim breaker reset`"
    )]
    BreakerOpen {
        /// When it tripped.
        since: String,
    },
    /// The service's own Keycloak account lacks a role: an operator must act.
    #[error("{0}")]
    Misconfigured(String),
    /// Keycloak answered in a way we cannot map to a client error.
    #[error("identity backend error: {0}")]
    Backend(String),
}

impl From<crate::settings_store::SettingsError> for DirectoryError {
    fn from(err: crate::settings_store::SettingsError) -> Self {
        use crate::settings_store::SettingsError;
        match err {
            SettingsError::Kc(e) => Self::from_kc(e, "scim-endpoint client"),
            SettingsError::NoClient(_) => Self::Backend("scim-endpoint client vanished".to_owned()),
            SettingsError::Conflict { .. } => Self::Unavailable {
                detail: err.to_string(),
                retry_after: 1,
            },
            other @ (SettingsError::Unreadable { .. } | SettingsError::NoId(_)) => {
                Self::Backend(other.to_string())
            }
        }
    }
}

impl DirectoryError {
    /// Whether the failed operation certainly wrote nothing: Keycloak (or
    /// kc-scim) refused it. A timeout or a 5xx may have landed.
    #[must_use]
    pub fn wrote_nothing(&self) -> bool {
        !matches!(self, Self::Unavailable { .. } | Self::Backend(_))
    }

    /// Maps a Keycloak error to a directory error for an operation on `what`.
    pub fn from_kc(err: KcError, what: &str) -> Self {
        match err {
            KcError::NotFound(_) => Self::NotFound(format!("{what} not found")),
            KcError::Conflict(message) => Self::Conflict(conflict_detail(&message)),
            KcError::BadRequest { message, errors } => {
                let fields: Vec<String> = errors
                    .iter()
                    .filter_map(|e| e.field.as_deref())
                    .map(scim_name_of_field)
                    .collect();
                let detail = if fields.is_empty() {
                    format!("Keycloak rejected the value: {}", readable(&message))
                } else {
                    format!(
                        "invalid value for {}: {}",
                        fields.join(", "),
                        readable(errors.first().map_or(&message, |e| &e.message))
                    )
                };
                // Keycloak's own text never reaches the client: only the
                // fixed sentence of a known message key.
                Self::Scim(ScimError::invalid_value(detail))
            }
            e if e.is_unavailable() => Self::Unavailable {
                detail: "Keycloak is unavailable; retry later".to_owned(),
                retry_after: 5,
            },
            KcError::Forbidden(call) => Self::Misconfigured(format!(
                "Keycloak denied the SCIM service's own account access to {call}: the account \
                 lacks a realm-management role (docs/security.md lists the run-time roles)"
            )),
            KcError::AdminAuth(_) => Self::Unavailable {
                detail: "the SCIM service cannot authenticate to Keycloak; retry later".to_owned(),
                retry_after: 30,
            },
            other => Self::Backend(other.to_string()),
        }
    }
}

fn conflict_detail(message: &str) -> String {
    let lower = message.to_ascii_lowercase();
    if lower.contains("email") {
        "a user with the same email already exists".to_owned()
    } else if lower.contains("username") {
        "a user with the same userName already exists".to_owned()
    } else if lower.contains("group") || lower.contains("sibling") {
        "a group with the same displayName already exists".to_owned()
    } else {
        "the resource conflicts with an existing one".to_owned()
    }
}

/// SCIM's name for a Keycloak field named in a validation error.
fn scim_name_of_field(field: &str) -> String {
    match field {
        "username" => "userName".to_owned(),
        "email" => "emails".to_owned(),
        "firstName" => "name.givenName".to_owned(),
        "lastName" => "name.familyName".to_owned(),
        other => crate::mapping::fidelity::scim_path_of(other).unwrap_or_else(|| other.to_owned()),
    }
}

/// A fixed sentence for Keycloak's validation message keys; any other text
/// (a free-form message, a key not listed) is not repeated to the client.
fn readable(message: &str) -> &'static str {
    match message.trim() {
        "error-invalid-length" | "error-invalid-length-too-long" => "the value is too long",
        "error-invalid-length-too-short" => "the value is too short",
        "error-invalid-email" => "not a valid email address",
        "error-invalid-value" => "the value is not accepted",
        "error-invalid-blank" | "error-user-attribute-required" => "a value is required",
        "error-username-invalid-character" | "error-person-name-invalid-character" => {
            "the value contains a character Keycloak does not accept"
        }
        "error-user-attribute-read-only" => "the attribute is read-only in Keycloak",
        "error-invalid-multivalued-size" => "too many values",
        "error-invalid-uri" | "error-invalid-uri-scheme" => "not a valid URI",
        "error-invalid-date" => "not a valid date",
        "error-invalid-number" => "not a valid number",
        _ => "the value is not accepted by Keycloak",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keycloak::KcFieldError;

    fn detail(message: &str, field: Option<&str>) -> String {
        let errors = field
            .map(|f| {
                vec![KcFieldError {
                    field: Some(f.to_owned()),
                    message: message.to_owned(),
                }]
            })
            .unwrap_or_default();
        match DirectoryError::from_kc(
            KcError::BadRequest {
                message: message.to_owned(),
                errors,
            },
            "User",
        ) {
            DirectoryError::Scim(e) => e.detail,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn keycloaks_own_text_never_reaches_the_client() {
        let cases = [
            (
                "error-invalid-email",
                Some("email"),
                "invalid value for emails: not a valid email address",
            ),
            (
                "error-invalid-length",
                Some("scimTitle"),
                "invalid value for title: the value is too long",
            ),
            (
                "Internal path /opt/keycloak/x leaked <script>",
                None,
                "Keycloak rejected the value: the value is not accepted by Keycloak",
            ),
            (
                "error-something-new",
                Some("username"),
                "invalid value for userName: the value is not accepted by Keycloak",
            ),
        ];
        for (message, field, expected) in cases {
            assert_eq!(detail(message, field), expected, "{message}");
        }
    }
}
