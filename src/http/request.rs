//! Request plumbing shared by the handlers: JSON bodies (content type, size
//! limit, syntax), list parameters from the query string or a `.search` body,
//! projection, SCIM responses and the audit event. The realm and bearer checks
//! live in [`super::authorized`] and run before any of this.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use futures::StreamExt;
use serde_json::Value;

use super::authorized::Authorized;
use super::{ApiError, SCIM_JSON};
use crate::directory::{ListPage, ListRequest};
use crate::scim::projection::{parse_attribute_list, project};
use crate::scim::schema::ResourceSchema;
use crate::scim::{parse_attr_path, parse_filter, AttrPath, ListResponse, ScimError};

/// The id path segment.
pub(super) fn id_of(req: &HttpRequest) -> String {
    req.match_info().get("id").unwrap_or_default().to_owned()
}

/// The `If-Match` header.
pub(super) fn if_match(req: &HttpRequest) -> Option<String> {
    req.headers()
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Reads a JSON body: `application/scim+json` or `application/json`, at most
/// `limit` bytes, valid JSON.
pub(super) async fn json_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Value, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media != SCIM_JSON && media != "application/json" {
        return Err(ScimError::new(
            415,
            Some(crate::scim::ScimType::InvalidSyntax),
            format!("Content-Type must be {SCIM_JSON} or application/json, not {content_type:?}"),
        )
        .into());
    }
    if let Some(encoding) = req.headers().get(header::CONTENT_ENCODING) {
        let encoding = encoding.to_str().unwrap_or_default().trim();
        if !encoding.eq_ignore_ascii_case("identity") {
            return Err(ScimError::new(
                415,
                Some(crate::scim::ScimType::InvalidSyntax),
                format!(
                    "Content-Encoding {encoding:?} is not accepted; send the body uncompressed"
                ),
            )
            .into());
        }
    }
    let too_large = || {
        ApiError::from(ScimError::payload_too_large(format!(
            "the request body exceeds {limit} bytes"
        )))
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::from(ScimError::invalid_syntax(format!(
                "cannot read the body: {e}"
            )))
        })?;
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        ApiError::from(ScimError::invalid_syntax(format!(
            "the body is not valid JSON: {e}"
        )))
    })?;
    if let Some(path) = control_character_at(&value, "") {
        return Err(ScimError::invalid_value(format!(
            "{path} contains a control character (U+0000 to U+001F); Keycloak cannot store it"
        ))
        .into());
    }
    Ok(value)
}

/// Whether `s` holds a C0 control character, which no identity attribute
/// needs and some databases refuse (`NUL` in `PostgreSQL`).
fn has_control(s: &str) -> bool {
    s.chars().any(|c| u32::from(c) < 0x20)
}

/// `addresses.formatted` "MAY contain newlines" (RFC 7643 §4.1.2): there,
/// line breaks and tabs are values, not control characters.
fn has_control_at(s: &str, path: &str) -> bool {
    // PATCH values are checked again, attribute by attribute, once applied.
    let multi_line = path.starts_with("Operations")
        || path
            .rsplit_once("addresses.")
            .is_some_and(|(_, rest)| rest.eq_ignore_ascii_case("formatted"));
    if multi_line {
        s.chars()
            .any(|c| u32::from(c) < 0x20 && !matches!(c, '\n' | '\r' | '\t'))
    } else {
        has_control(s)
    }
}

/// The path of the first string (or key) holding a control character.
fn control_character_at(value: &Value, path: &str) -> Option<String> {
    match value {
        Value::String(s) if has_control_at(s, path) => Some(if path.is_empty() {
            "a value".to_owned()
        } else {
            path.to_owned()
        }),
        Value::Array(items) => items.iter().find_map(|v| control_character_at(v, path)),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            let here = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if has_control(k) {
                Some(here)
            } else {
                control_character_at(v, &here)
            }
        }),
        _ => None,
    }
}

/// `attributes` / `excludedAttributes`.
#[derive(Debug, Default, Clone)]
pub(super) struct Projection {
    attributes: Vec<AttrPath>,
    excluded: Vec<AttrPath>,
}

impl Projection {
    /// From the query string.
    pub(super) fn from_query(req: &HttpRequest) -> Result<Self, ApiError> {
        let mut p = Self::default();
        for (key, value) in query_pairs(req) {
            if key.eq_ignore_ascii_case("attributes") {
                p.attributes.extend(parse_attribute_list(&value)?);
            } else if key.eq_ignore_ascii_case("excludedAttributes") {
                p.excluded.extend(parse_attribute_list(&value)?);
            }
        }
        Ok(p)
    }

    /// Whether `attributes` names `name` explicitly.
    #[must_use]
    pub(super) fn requests(&self, name: &str) -> bool {
        self.attributes
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(name))
    }

    /// Whether `members` is excluded (so the directory need not load them).
    #[must_use]
    pub(super) fn excludes(&self, name: &str) -> bool {
        self.excluded
            .iter()
            .any(|p| p.name.eq_ignore_ascii_case(name) && p.sub_attr.is_none())
            || (!self.attributes.is_empty()
                && !self
                    .attributes
                    .iter()
                    .any(|p| p.name.eq_ignore_ascii_case(name)))
    }

    /// Applies the projection.
    #[must_use]
    pub(super) fn apply(&self, resource: &Value, schema: &ResourceSchema) -> Value {
        if self.attributes.is_empty() && self.excluded.is_empty() {
            return resource.clone();
        }
        project(resource, &self.attributes, &self.excluded, schema)
    }
}

fn query_pairs(req: &HttpRequest) -> Vec<(String, String)> {
    url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// List parameters (RFC 7644 §3.4.2), from a query string or a `.search` body.
#[derive(Debug, Default)]
pub(super) struct ListParams {
    /// The list request for the directory.
    pub request: ListRequest,
    /// The projection of each resource.
    pub projection: Projection,
}

fn parse_index(name: &str, value: &str) -> Result<i64, ApiError> {
    value.trim().parse::<i64>().map_err(|_| {
        ScimError::invalid_value(format!("{name} must be an integer, not {value:?}")).into()
    })
}

impl ListParams {
    /// From the query string of a GET.
    pub(super) fn from_query(req: &HttpRequest, max_results: usize) -> Result<Self, ApiError> {
        let mut filter = None;
        let mut start = None;
        let mut count = None;
        let mut sort_by = None;
        let mut sort_order = None;
        for (key, value) in query_pairs(req) {
            match key.to_ascii_lowercase().as_str() {
                "filter" => filter = Some(value),
                "startindex" => start = Some(parse_index("startIndex", &value)?),
                "count" => count = Some(parse_index("count", &value)?),
                "sortby" => sort_by = Some(value),
                "sortorder" => sort_order = Some(value),
                _ => {} // unknown parameters (e.g. aadOptscim062020) are ignored
            }
        }
        let projection = Projection::from_query(req)?;
        Self::build(
            filter.as_deref(),
            start,
            count,
            sort_by.as_deref(),
            sort_order.as_deref(),
            projection,
            max_results,
        )
    }

    /// From the body of `POST …/.search`.
    pub(super) fn from_search_body(body: &Value, max_results: usize) -> Result<Self, ApiError> {
        let obj = body
            .as_object()
            .ok_or_else(|| ScimError::invalid_syntax("the search request must be an object"))?;
        let text = |k: &str| -> Result<Option<String>, ApiError> {
            match obj.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)) {
                None | Some((_, Value::Null)) => Ok(None),
                Some((_, Value::String(s))) => Ok(Some(s.clone())),
                Some(_) => Err(ScimError::invalid_value(format!("{k} must be a string")).into()),
            }
        };
        let int = |k: &str| -> Result<Option<i64>, ApiError> {
            match obj.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)) {
                None | Some((_, Value::Null)) => Ok(None),
                Some((_, v)) => v.as_i64().map(Some).ok_or_else(|| {
                    ScimError::invalid_value(format!("{k} must be an integer")).into()
                }),
            }
        };
        let list = |k: &str| -> Result<Vec<AttrPath>, ApiError> {
            match obj.iter().find(|(key, _)| key.eq_ignore_ascii_case(k)) {
                None | Some((_, Value::Null)) => Ok(Vec::new()),
                Some((_, Value::Array(items))) => items
                    .iter()
                    .map(|i| {
                        i.as_str()
                            .ok_or_else(|| {
                                ApiError::from(ScimError::invalid_value(format!(
                                    "{k} must be strings"
                                )))
                            })
                            .and_then(|s| parse_attr_path(s).map_err(ApiError::from))
                    })
                    .collect(),
                Some((_, Value::String(s))) => Ok(parse_attribute_list(s)?),
                Some(_) => Err(ScimError::invalid_value(format!("{k} must be an array")).into()),
            }
        };
        let projection = Projection {
            attributes: list("attributes")?,
            excluded: list("excludedAttributes")?,
        };
        Self::build(
            text("filter")?.as_deref(),
            int("startIndex")?,
            int("count")?,
            text("sortBy")?.as_deref(),
            text("sortOrder")?.as_deref(),
            projection,
            max_results,
        )
    }

    fn build(
        filter: Option<&str>,
        start: Option<i64>,
        count: Option<i64>,
        sort_by: Option<&str>,
        sort_order: Option<&str>,
        projection: Projection,
        max_results: usize,
    ) -> Result<Self, ApiError> {
        if filter.is_some_and(has_control) {
            return Err(
                ScimError::invalid_filter("the filter contains a control character").into(),
            );
        }
        let filter = match filter.map(str::trim) {
            None | Some("") => None,
            Some(f) => Some(parse_filter(f)?),
        };
        // RFC 7644 §3.4.2.4: startIndex < 1 is read as 1; count < 0 as 0.
        let start_index = usize::try_from(start.unwrap_or(1).max(1)).unwrap_or(1);
        let count = count.map_or(max_results, |c| {
            usize::try_from(c.max(0)).unwrap_or(0).min(max_results)
        });
        let sort_by = sort_by
            .filter(|s| !s.trim().is_empty())
            .map(|s| parse_attr_path(s.trim()))
            .transpose()?;
        let descending = match sort_order.map(str::to_ascii_lowercase).as_deref() {
            None | Some("" | "ascending") => false,
            Some("descending") => true,
            Some(other) => {
                return Err(ScimError::invalid_value(format!(
                    "sortOrder must be ascending or descending, not {other:?}"
                ))
                .into())
            }
        };
        let skip_members = projection.excludes("members");
        Ok(Self {
            request: ListRequest {
                filter,
                start_index,
                count,
                sort_by,
                descending,
                skip_members,
            },
            projection,
        })
    }
}

/// A SCIM JSON response with the resource's `ETag`.
pub(super) fn resource_response(
    status: StatusCode,
    resource: &Value,
    body: &Value,
) -> HttpResponse {
    let mut response = HttpResponse::build(status);
    response.insert_header((header::CONTENT_TYPE, SCIM_JSON));
    if let Some(version) = resource.pointer("/meta/version").and_then(Value::as_str) {
        response.insert_header((header::ETAG, version.to_owned()));
    }
    if status == StatusCode::CREATED {
        if let Some(location) = resource.pointer("/meta/location").and_then(Value::as_str) {
            response.insert_header((header::LOCATION, location.to_owned()));
        }
    }
    response.body(json_bytes(body))
}

/// A SCIM JSON response.
pub(super) fn scim_response(status: StatusCode, body: &Value) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((header::CONTENT_TYPE, SCIM_JSON))
        .body(json_bytes(body))
}

/// The compact JSON of `body`, written straight into bytes (printing it
/// through `Display` costs a formatter call per token).
fn json_bytes(body: &Value) -> Vec<u8> {
    // A `Value` always serialises; the fallback only keeps this total.
    serde_json::to_vec(body).unwrap_or_else(|_| body.to_string().into_bytes())
}

/// `invalidFilter` naming the first attribute of the request's filter that
/// none of `schemas` defines (a typo would otherwise match nothing).
pub(super) fn check_filter_attributes(
    params: &ListParams,
    schemas: &[&ResourceSchema],
) -> Result<(), ApiError> {
    let Some(filter) = &params.request.filter else {
        return Ok(());
    };
    let unknown: Vec<String> = schemas
        .iter()
        .filter_map(|s| filter.unknown_attribute(s))
        .collect();
    match unknown.first() {
        Some(name) if unknown.len() == schemas.len() => Err(ScimError::invalid_filter(format!(
            "the filter names {name:?}, which is not an attribute of this resource type"
        ))
        .into()),
        _ => Ok(()),
    }
}

/// A list page as a SCIM `ListResponse`, each resource projected.
#[must_use]
pub(super) fn list_response(
    page: &ListPage,
    params: &ListParams,
    schema: &ResourceSchema,
) -> HttpResponse {
    let resources = page
        .resources
        .iter()
        .map(|r| params.projection.apply(r, schema))
        .collect();
    let list = ListResponse::new(resources, page.total, params.request.start_index);
    scim_response(StatusCode::OK, &list.to_value())
}

/// A written (or read) resource, projected by the request's `attributes` /
/// `excludedAttributes`, with its `ETag` (and `Location` on 201).
pub(super) fn resource_reply(
    req: &HttpRequest,
    status: StatusCode,
    resource: &Value,
    schema: &ResourceSchema,
) -> Result<HttpResponse, ApiError> {
    let body = Projection::from_query(req)?.apply(resource, schema);
    Ok(resource_response(status, resource, &body))
}

/// A PUT body may repeat the resource's `id`, but not change it.
pub(super) fn check_put_id(raw: &Value, id: &str) -> Result<(), ApiError> {
    match raw.get("id").and_then(Value::as_str) {
        Some(sent) if sent != id => Err(ScimError::mutability(format!(
            "id is readOnly: the body says {sent:?}, the URL {id:?}"
        ))
        .into()),
        _ => Ok(()),
    }
}

/// One structured audit event per SCIM write (never a secret). `id` is the
/// resource's id, or the created resource's when `None`.
pub(super) fn audit<E: std::fmt::Display>(
    scope: &Authorized,
    operation: &str,
    id: Option<&str>,
    outcome: &Result<Value, E>,
) {
    let created = outcome
        .as_ref()
        .ok()
        .and_then(|v| v.get("id"))
        .and_then(Value::as_str);
    let result = match outcome {
        Ok(_) => "success".to_owned(),
        Err(e) => format!("failure: {e}"),
    };
    tracing::info!(
        target: "audit",
        realm = %scope.realm,
        operation,
        resource_id = id.or(created).unwrap_or("-"),
        outcome = %result,
        credential_kind = scope.credential.kind(),
        credential_id = scope.credential.id(),
        "scim write"
    );
}
