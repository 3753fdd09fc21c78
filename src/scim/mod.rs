//! The SCIM 2.0 protocol core (RFC 7643 schemas, RFC 7644 protocol), pure.
//!
//! Resources are `serde_json::Value`s in canonical SCIM JSON (extensions
//! nested under their URN). From the leaves in: the URNs ([`urn`]), errors
//! ([`error`]), attribute paths and case-insensitive lookup ([`path`]); then the schema model, definitions and discovery documents
//! ([`schema`]: `mod.rs`, `definitions.rs`, `discovery.rs`), the filter AST,
//! parser and evaluation ([`filter`]: `mod.rs`, `parse.rs`, `eval.rs`), input
//! normalisation ([`resource`]), the PATCH request types, engine and member
//! arithmetic with Entra's dialect ([`patch`]: `mod.rs`, `apply.rs`,
//! `members.rs`), `attributes`/`excludedAttributes` ([`projection`]) and list
//! responses ([`list`]). Each file imports only those before it. Invariant:
//! nothing here does I/O or knows about HTTP frameworks or the identity
//! backend, and no parser or engine panics on any input.

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
