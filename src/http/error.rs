//! The one place where errors become HTTP responses: an RFC 7644 §3.12 body
//! for the client (`status` as a string), and the [`Cause`] that the request
//! span logs once (with the cause chain) when the request ends.
//!
//! Invariant: conversions here are pure. They neither log nor count metrics;
//! [`super::span`] does both, once per request, in `on_request_end`.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};

use super::SCIM_JSON;
use crate::auth::AuthError;
use crate::directory::DirectoryError;
use crate::scim::ScimError;

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    error: ScimError,
    retry_after: Option<u64>,
    challenge: bool,
    cause: Option<Cause>,
}

/// What the log must say about an error beyond its status: why a credential
/// was refused, or the cause chain of a failure that is not the caller's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// A refused credential, with its bounded reason (a metric label).
    Refused(&'static str),
    /// The backend is down, slow or overloaded.
    Unavailable(String),
    /// The service's own Keycloak account lacks a role.
    Misconfigured(String),
    /// The backend answered in a way that maps to no client error.
    Backend(String),
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

    /// What the request span logs about this error, beyond its status.
    #[must_use]
    pub fn cause(&self) -> Option<&Cause> {
        self.cause.as_ref()
    }
}

impl From<ScimError> for ApiError {
    fn from(error: ScimError) -> Self {
        Self {
            error,
            retry_after: None,
            challenge: false,
            cause: None,
        }
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        let cause = Some(Cause::Refused(e.reason()));
        if e == AuthError::KeysUnavailable {
            // Not the caller's fault: retry once the key server answers.
            return Self {
                error: ScimError::unavailable(e.to_string()),
                retry_after: Some(30),
                challenge: false,
                cause,
            };
        }
        // Past the header's shape, every refusal reads the same: the reason
        // (e.g. a JWT's signature, issuer or key) could tell a realm that is
        // served from one that is not. The reason goes to the log only.
        let detail = match e {
            AuthError::Missing | AuthError::Ambiguous | AuthError::WrongScheme => e.to_string(),
            _ => AuthError::UnknownToken.to_string(),
        };
        Self {
            error: ScimError::unauthorized(detail),
            retry_after: None,
            challenge: true,
            cause,
        }
    }
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        let (error, retry_after, cause) = match e {
            DirectoryError::Scim(s) => (s, None, None),
            DirectoryError::NotFound(d) => (ScimError::not_found(d), None, None),
            DirectoryError::Conflict(d) => (ScimError::uniqueness(d), None, None),
            DirectoryError::Forbidden(d) => (ScimError::forbidden(d), None, None),
            e @ DirectoryError::PreconditionFailed { .. } => {
                (ScimError::precondition_failed(e.to_string()), None, None)
            }
            DirectoryError::Unavailable {
                detail,
                retry_after,
            } => (
                ScimError::unavailable(detail.clone()),
                Some(retry_after),
                Some(Cause::Unavailable(detail)),
            ),
            DirectoryError::Busy { retry_after } => (
                ScimError::too_many_requests(
                    "too many SCIM operations in flight for this realm; retry shortly",
                ),
                Some(retry_after),
                None,
            ),
            e @ DirectoryError::BreakerOpen { .. } => {
                (ScimError::unavailable(e.to_string()), Some(3_600), None)
            }
            DirectoryError::Misconfigured(cause) => (
                ScimError::internal(
                    "the SCIM service's Keycloak account lacks a role for this operation; \
                     an administrator must grant it (see the service log)",
                ),
                None,
                Some(Cause::Misconfigured(cause)),
            ),
            DirectoryError::Backend(cause) => (
                ScimError::internal("the identity backend answered unexpectedly"),
                None,
                Some(Cause::Backend(cause)),
            ),
        };
        Self {
            error,
            retry_after,
            challenge: false,
            cause,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    fn error_response(&self) -> HttpResponse {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn header(r: &HttpResponse, name: header::HeaderName) -> Option<&str> {
        r.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn directory_errors_map_to_status_retry_after_and_a_cause_for_the_log() {
        let backend = || DirectoryError::Backend("kc said 500: secret stack".to_owned());
        let table: Vec<(DirectoryError, u16, Option<u64>, Option<Cause>)> = vec![
            (DirectoryError::NotFound("user x".into()), 404, None, None),
            (DirectoryError::Conflict("taken".into()), 409, None, None),
            (
                DirectoryError::Forbidden("protected".into()),
                403,
                None,
                None,
            ),
            (
                DirectoryError::PreconditionFailed {
                    current: "W/\"1\"".into(),
                },
                412,
                None,
                None,
            ),
            (
                DirectoryError::Unavailable {
                    detail: "Keycloak timed out".into(),
                    retry_after: 5,
                },
                503,
                Some(5),
                Some(Cause::Unavailable("Keycloak timed out".into())),
            ),
            (DirectoryError::Busy { retry_after: 1 }, 429, Some(1), None),
            (
                DirectoryError::BreakerOpen {
                    since: "then".into(),
                },
                503,
                Some(3_600),
                None,
            ),
            (
                DirectoryError::Misconfigured("no view-users".into()),
                500,
                None,
                Some(Cause::Misconfigured("no view-users".into())),
            ),
            (
                backend(),
                500,
                None,
                Some(Cause::Backend("kc said 500: secret stack".into())),
            ),
        ];
        for (input, status, retry_after, cause) in table {
            let shown = format!("{input:?}");
            let e = ApiError::from(input);
            assert_eq!(e.scim().status, status, "{shown}");
            assert_eq!(e.retry_after, retry_after, "{shown}");
            assert_eq!(e.cause(), cause.as_ref(), "{shown}");
            assert!(!e.challenge, "{shown}");
        }
    }

    #[test]
    fn backend_cause_goes_to_the_log_never_to_the_client() {
        let e = ApiError::from(DirectoryError::Backend("kc said 500: secret stack".into()));
        let body = e.error_response();
        assert_eq!(body.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!e.scim().detail.contains("secret"), "{}", e.scim().detail);
    }

    #[test]
    fn refused_credentials_carry_their_reason_and_a_bearer_challenge() {
        let e = ApiError::from(AuthError::UnknownToken);
        assert_eq!(e.scim().status, 401);
        assert_eq!(e.cause(), Some(&Cause::Refused("unknown_token")));
        let r = e.error_response();
        assert_eq!(header(&r, header::WWW_AUTHENTICATE), Some("Bearer"));
        assert_eq!(header(&r, header::CONTENT_TYPE), Some(SCIM_JSON));
    }

    #[test]
    fn every_refused_token_reads_the_same_whatever_the_reason() {
        let unknown = ApiError::from(AuthError::UnknownToken)
            .scim()
            .detail
            .clone();
        for reason in [
            AuthError::Expired,
            AuthError::Malformed,
            AuthError::BadSignature,
            AuthError::UnknownKey,
            AuthError::WrongIssuer,
            AuthError::WrongClient,
            AuthError::ProfileMismatch,
        ] {
            let e = ApiError::from(reason);
            assert_eq!(e.scim().detail, unknown, "{reason:?}");
            assert_eq!(e.cause(), Some(&Cause::Refused(reason.reason())));
        }
        let missing = ApiError::from(AuthError::Missing);
        assert!(missing.scim().detail.contains("no Authorization header"));
    }

    #[test]
    fn unavailable_signing_keys_are_a_503_to_retry_not_a_challenge() {
        let e = ApiError::from(AuthError::KeysUnavailable);
        assert_eq!(e.scim().status, 503);
        assert_eq!(e.cause(), Some(&Cause::Refused("keys_unavailable")));
        let r = e.error_response();
        assert_eq!(header(&r, header::RETRY_AFTER), Some("30"));
        assert_eq!(header(&r, header::WWW_AUTHENTICATE), None);
    }

    #[test]
    fn scim_errors_have_no_cause_beyond_their_status() {
        let e = ApiError::from(ScimError::invalid_filter("bad"));
        assert_eq!(e.scim().status, 400);
        assert_eq!(e.cause(), None);
    }
}
