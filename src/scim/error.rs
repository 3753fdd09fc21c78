//! SCIM protocol errors (RFC 7644 §3.12).
//!
//! Every failure the protocol core reports is a [`ScimError`]: an HTTP status,
//! an optional [`ScimType`] and a human-readable detail. [`ScimError::body`]
//! renders the RFC 7644 error document; its `status` is always a string.
//! Invariant: the detail never carries backend internals, only what the
//! client sent and why it was refused.

use serde_json::{json, Value};

use super::urn::ERROR;

/// The `scimType` error keywords of RFC 7644 §3.12, Table 9.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScimType {
    /// The filter syntax was invalid or the operator is not supported.
    InvalidFilter,
    /// The filter yields more results than the server will process.
    TooMany,
    /// One or more attribute values are already in use or reserved.
    Uniqueness,
    /// The attempted modification is not compatible with the mutability.
    Mutability,
    /// The request body structure was invalid.
    InvalidSyntax,
    /// The `path` attribute was invalid or malformed.
    InvalidPath,
    /// The `path` did not yield an attribute or value to operate on.
    NoTarget,
    /// A required value was missing or a value had the wrong type.
    InvalidValue,
    /// The SCIM protocol version is not supported.
    InvalidVers,
    /// The request cannot be completed because of sensitive information.
    Sensitive,
}

impl ScimType {
    /// Every keyword, in RFC order.
    pub const ALL: [ScimType; 10] = [
        ScimType::InvalidFilter,
        ScimType::TooMany,
        ScimType::Uniqueness,
        ScimType::Mutability,
        ScimType::InvalidSyntax,
        ScimType::InvalidPath,
        ScimType::NoTarget,
        ScimType::InvalidValue,
        ScimType::InvalidVers,
        ScimType::Sensitive,
    ];

    /// The keyword as written on the wire.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }

    /// The HTTP status RFC 7644 pairs with the keyword.
    #[must_use]
    pub fn status(self) -> u16 {
        match self {
            ScimType::Uniqueness => 409,
            ScimType::Sensitive => 403,
            _ => 400,
        }
    }
}

impl std::fmt::Display for ScimType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A SCIM error: HTTP status, optional `scimType`, detail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SCIM {status}{kind}: {detail}", kind = kind_suffix(*.scim_type))]
pub struct ScimError {
    /// HTTP status code.
    pub status: u16,
    /// The RFC 7644 error keyword, when one applies.
    pub scim_type: Option<ScimType>,
    /// Human-readable explanation, safe to show to the client.
    pub detail: String,
}

fn kind_suffix(scim_type: Option<ScimType>) -> String {
    scim_type.map_or_else(String::new, |t| format!(" {}", t.as_str()))
}

impl ScimError {
    /// An error with any status and keyword.
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        Self {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    /// An error for a keyword, with the status RFC 7644 pairs with it.
    pub fn typed(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(scim_type.status(), Some(scim_type), detail)
    }

    /// 400 `invalidFilter`.
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidFilter, detail)
    }
    /// 400 `invalidSyntax`.
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidSyntax, detail)
    }
    /// 400 `invalidValue`.
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidValue, detail)
    }
    /// 400 `invalidPath`.
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::InvalidPath, detail)
    }
    /// 400 `noTarget`.
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::NoTarget, detail)
    }
    /// 400 `mutability`.
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Mutability, detail)
    }
    /// 400 `tooMany`.
    pub fn too_many(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::TooMany, detail)
    }
    /// 409 `uniqueness`.
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Uniqueness, detail)
    }
    /// 403 `sensitive`.
    pub fn sensitive(detail: impl Into<String>) -> Self {
        Self::typed(ScimType::Sensitive, detail)
    }
    /// 404: unknown resource (or realm).
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }
    /// 401: missing or bad credential.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(401, None, detail)
    }
    /// 403: the operation is not permitted on this resource.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(403, None, detail)
    }
    /// 409 without a keyword (a conflict that is not about uniqueness).
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(409, None, detail)
    }
    /// 412: `If-Match` did not match the current version.
    pub fn precondition_failed(detail: impl Into<String>) -> Self {
        Self::new(412, None, detail)
    }
    /// 413: the request body is larger than the server accepts.
    pub fn payload_too_large(detail: impl Into<String>) -> Self {
        Self::new(413, None, detail)
    }
    /// 429: the caller or the backend is rate limited.
    pub fn too_many_requests(detail: impl Into<String>) -> Self {
        Self::new(429, None, detail)
    }
    /// 500: an internal failure (the detail must stay generic).
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(500, None, detail)
    }
    /// 503: the backend is unavailable.
    pub fn unavailable(detail: impl Into<String>) -> Self {
        Self::new(503, None, detail)
    }

    /// The RFC 7644 §3.12 error document.
    #[must_use]
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Some(map)) = (self.scim_type, body.as_object_mut()) {
            map.insert("scimType".to_owned(), Value::String(t.as_str().to_owned()));
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_renders_status_as_string_and_scim_type() {
        let body = ScimError::uniqueness("userName taken").body();
        assert_eq!(
            body,
            json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                "status": "409",
                "scimType": "uniqueness",
                "detail": "userName taken"
            })
        );
    }

    #[test]
    fn body_omits_scim_type_when_none() {
        let body = ScimError::not_found("Resource 2819c223 not found").body();
        assert_eq!(body["status"], "404");
        assert!(body.get("scimType").is_none());
    }

    #[test]
    fn every_scim_type_renders_its_keyword_and_status() {
        for t in ScimType::ALL {
            let body = ScimError::typed(t, "x").body();
            assert_eq!(body["scimType"], t.as_str());
            assert_eq!(body["status"], t.status().to_string());
            assert_eq!(body["schemas"][0], ERROR);
        }
        let names: Vec<&str> = ScimType::ALL.iter().map(|t| t.as_str()).collect();
        assert_eq!(
            names,
            [
                "invalidFilter",
                "tooMany",
                "uniqueness",
                "mutability",
                "invalidSyntax",
                "invalidPath",
                "noTarget",
                "invalidValue",
                "invalidVers",
                "sensitive"
            ]
        );
    }

    #[test]
    fn constructors_pick_rfc_statuses() {
        assert_eq!(ScimError::unauthorized("x").status, 401);
        assert_eq!(ScimError::forbidden("x").status, 403);
        assert_eq!(ScimError::precondition_failed("x").status, 412);
        assert_eq!(ScimError::payload_too_large("x").status, 413);
        assert_eq!(ScimError::too_many_requests("x").status, 429);
        assert_eq!(ScimError::internal("x").status, 500);
        assert_eq!(ScimError::unavailable("x").status, 503);
        assert_eq!(ScimError::too_many("x").scim_type, Some(ScimType::TooMany));
        assert_eq!(ScimError::mutability("x").status, 400);
    }

    #[test]
    fn display_names_status_type_and_detail() {
        let e = ScimError::invalid_filter("bad at offset 3");
        assert_eq!(e.to_string(), "SCIM 400 invalidFilter: bad at offset 3");
        assert_eq!(ScimError::not_found("gone").to_string(), "SCIM 404: gone");
    }
}
