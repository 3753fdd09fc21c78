//! The SCIM 2.0 protocol core (RFC 7643 schemas, RFC 7644 protocol), pure.
//!
//! Resources are `serde_json::Value`s in canonical SCIM JSON (extensions
//! nested under their URN). This module owns schemas and discovery documents
//! ([`schema`]), the filter grammar and its evaluation ([`filter`]), the PATCH
//! engine with Entra's dialect ([`patch`]), input normalisation
//! ([`resource`]), `attributes`/`excludedAttributes` ([`projection`]), list
//! responses ([`list`]) and errors ([`error`]). Invariant: nothing here does
//! I/O or knows about HTTP frameworks or the identity backend, and no parser
//! or engine panics on any input.

pub mod error;
pub mod filter;
pub mod list;
pub mod patch;
pub mod path;
pub mod projection;
pub mod resource;
pub mod schema;
pub mod urn;

#[cfg(test)]
mod entra_tests;
#[cfg(test)]
mod proptests;

pub use error::{ScimError, ScimType};
pub use filter::{parse_filter, CompValue, CompareOp, Filter, ValuePath};
pub use list::ListResponse;
pub use patch::{
    apply_patch, parse_patch_request, split_member_ops, MemberChange, MemberDelta, PatchOp,
    PatchOperation, PatchOutcome, PatchPath, PatchRequest,
};
pub use path::{parse_attr_path, AttrPath};
pub use projection::project;
pub use resource::normalize_input;
pub use schema::{AttributeDef, ResourceSchema, SchemaDef};
