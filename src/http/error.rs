//! The one place where errors become HTTP responses: an RFC 7644 §3.12 body
//! for the client (`status` as a string), the cause chain once in the log.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use super::SCIM_JSON;
use crate::auth::AuthError;
use crate::directory::DirectoryError;
use crate::scim::ScimError;
use crate::telemetry::metrics::metrics;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    error: ScimError,
    retry_after: Option<u64>,
    challenge: bool,
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.error.status, self.error.detail)
    }
}

impl ApiError {
    /// The SCIM error.
    #[must_use]
    pub fn scim(&self) -> &ScimError {
        &self.error
    }
}

impl From<ScimError> for ApiError {
    fn from(error: ScimError) -> Self {
        Self {
            error,
            retry_after: None,
            challenge: false,
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        tracing::info!(reason = e.reason(), "authentication failed");
        if let Some(m) = metrics() {
            m.auth_failures.with_label_values(&[e.reason()]).inc();
        }
        if e == AuthError::KeysUnavailable {
            // Not the caller's fault: retry once the key server answers.
            return Self {
                error: ScimError::unavailable(e.to_string()),
                retry_after: Some(30),
                challenge: false,
            };
        }
        Self {
            error: ScimError::unauthorized(e.to_string()),
            retry_after: None,
            challenge: true,
        }
    }
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        let (error, retry_after) = match e {
            DirectoryError::Scim(s) => (s, None),
            DirectoryError::NotFound(d) => (ScimError::not_found(d), None),
            DirectoryError::Conflict(d) => (ScimError::uniqueness(d), None),
            DirectoryError::Forbidden(d) => (ScimError::forbidden(d), None),
            e @ DirectoryError::PreconditionFailed { .. } => {
                (ScimError::precondition_failed(e.to_string()), None)
            }
            DirectoryError::Unavailable {
                detail,
                retry_after,
            } => {
                tracing::warn!(%detail, "backend unavailable");
                (ScimError::unavailable(detail), Some(retry_after))
            }
            DirectoryError::Busy { retry_after } => (
                ScimError::too_many_requests(
                    "too many SCIM operations in flight for this realm; retry shortly",
                ),
                Some(retry_after),
            ),
            e @ DirectoryError::BreakerOpen { .. } => {
                (ScimError::unavailable(e.to_string()), Some(3_600))
            }
            DirectoryError::Misconfigured(cause) => {
                tracing::error!(%cause, "the service's Keycloak account lacks a role");
                (
                    ScimError::internal(
                        "the SCIM service's Keycloak account lacks a role for this operation; \
                         an administrator must grant it (see the service log)",
                    ),
                    None,
                )
            }
            DirectoryError::Backend(cause) => {
                tracing::error!(%cause, "backend error");
                (
                    ScimError::internal("the identity backend answered unexpectedly"),
                    None,
                )
            }
        };
        Self {
            error,
            retry_after,
            challenge: false,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(m) = metrics() {
            let scim_type = self.error.scim_type.map_or("none", |t| t.as_str());
            m.scim_errors
                .with_label_values(&[scim_type, &self.error.status.to_string()])
                .inc();
        }
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CONTENT_TYPE, SCIM_JSON));
        if let Some(secs) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if self.challenge {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        response.body(self.error.body().to_string())
    }
}
