//! The URNs of RFC 7643/7644: resource schemas, extensions and protocol messages.
//!
//! A leaf of the protocol core: every other module names a schema or a
//! message by one of these constants, and this module imports nothing.
//! Invariant: each URN is written here once, in its canonical spelling
//! (comparisons elsewhere are case-insensitive).

/// Core User schema URN.
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Core Group schema URN.
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// Enterprise User extension URN.
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// The custom User extension Entra's attribute mapping targets by default.
pub const CUSTOM_EXTENSION_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:CustomExtensionName:2.0:User";
/// List response message URN.
pub const LIST_RESPONSE: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
/// PATCH request message URN.
pub const PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
/// Error message URN.
pub const ERROR: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// Schema resource URN (the `/Schemas` documents).
pub const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";
/// Resource type URN (the `/ResourceTypes` documents).
pub const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
/// Service provider configuration URN.
pub const SERVICE_PROVIDER_CONFIG_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
