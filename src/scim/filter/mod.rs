//! SCIM filters (RFC 7644 §3.4.2.2): the AST and its `Display`.
//!
//! [`Filter`], [`CompareOp`], [`CompValue`] and [`ValuePath`] are the tree a
//! filter parses to; `Display` writes it back with only the parentheses the
//! precedence needs. `parse.rs` holds the total parser ([`parse_filter`]) and
//! `eval.rs` the evaluation behind [`Filter::matches`]. Invariant:
//! `parse_filter(&f.to_string()) == Ok(f)` for every AST the parser
//! produces, and nothing here panics on any filter.

use std::fmt;

use serde_json::{Number, Value};

pub use super::path::{parse_attr_path, AttrPath};
use super::schema::{AttributeDef, ResourceSchema};

mod eval;
mod parse;
#[cfg(test)]
mod tests;

pub(crate) use parse::parse_path_expr;
pub use parse::{parse_filter, MAX_DEPTH, MAX_FILTER_LEN};

/// A comparison operator (RFC 7644 §3.4.2.2, Table 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CompareOp {
    /// equal
    Eq,
    /// not equal
    Ne,
    /// contains
    Co,
    /// starts with
    Sw,
    /// ends with
    Ew,
    /// greater than
    Gt,
    /// greater than or equal
    Ge,
    /// less than
    Lt,
    /// less than or equal
    Le,
}

impl CompareOp {
    /// Every operator.
    pub const ALL: [CompareOp; 9] = [
        CompareOp::Eq,
        CompareOp::Ne,
        CompareOp::Co,
        CompareOp::Sw,
        CompareOp::Ew,
        CompareOp::Gt,
        CompareOp::Ge,
        CompareOp::Lt,
        CompareOp::Le,
    ];

    /// The operator keyword (lower case).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CompareOp::Eq => "eq",
            CompareOp::Ne => "ne",
            CompareOp::Co => "co",
            CompareOp::Sw => "sw",
            CompareOp::Ew => "ew",
            CompareOp::Gt => "gt",
            CompareOp::Ge => "ge",
            CompareOp::Lt => "lt",
            CompareOp::Le => "le",
        }
    }

    /// The operator for a keyword, case-insensitively.
    #[must_use]
    pub fn from_keyword(word: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|op| op.as_str().eq_ignore_ascii_case(word))
    }
}

/// A comparison value.
#[derive(Debug, Clone, PartialEq)]
pub enum CompValue {
    /// A JSON string (dateTime values are strings too).
    String(String),
    /// A JSON number, kept as written so that it round-trips exactly.
    Number(Number),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
}

impl fmt::Display for CompValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CompValue::String(s) => {
                let quoted = serde_json::to_string(s).map_err(|_| fmt::Error)?;
                f.write_str(&quoted)
            }
            CompValue::Number(n) => write!(f, "{n}"),
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

/// A value path: a multi-valued (or complex) attribute and a filter its
/// elements must satisfy, `emails[type eq "work"]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValuePath {
    /// The attribute whose elements are filtered (no sub-attribute).
    pub attr: AttrPath,
    /// The filter, with paths relative to one element.
    pub filter: Box<Filter>,
}

/// A filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Both hold.
    And(Box<Filter>, Box<Filter>),
    /// Either holds.
    Or(Box<Filter>, Box<Filter>),
    /// The inner filter does not hold.
    Not(Box<Filter>),
    /// `path op value`.
    Compare {
        /// Attribute compared.
        path: AttrPath,
        /// Operator.
        op: CompareOp,
        /// Value compared against.
        value: CompValue,
    },
    /// `path pr`.
    Present {
        /// Attribute tested.
        path: AttrPath,
    },
    /// `attr[filter]`.
    ValuePath(ValuePath),
}

impl Filter {
    /// `path op value`.
    #[must_use]
    pub fn compare(path: AttrPath, op: CompareOp, value: CompValue) -> Self {
        Filter::Compare { path, op, value }
    }

    /// `a and b`.
    #[must_use]
    pub fn and(a: Filter, b: Filter) -> Self {
        Filter::And(Box::new(a), Box::new(b))
    }

    /// `a or b`.
    #[must_use]
    pub fn or(a: Filter, b: Filter) -> Self {
        Filter::Or(Box::new(a), Box::new(b))
    }

    /// `not (a)`.
    #[must_use]
    pub fn negate(a: Filter) -> Self {
        Filter::Not(Box::new(a))
    }

    /// The top-level `and` terms (`a and (b and c)` gives `[a, b, c]`); a
    /// filter that is not a conjunction is its own single term.
    #[must_use]
    pub fn conjuncts(&self) -> Vec<&Filter> {
        flatten(self, |f| match f {
            Filter::And(a, b) => Some((a, b)),
            _ => None,
        })
    }

    /// The top-level `or` terms.
    #[must_use]
    pub fn disjuncts(&self) -> Vec<&Filter> {
        flatten(self, |f| match f {
            Filter::Or(a, b) => Some((a, b)),
            _ => None,
        })
    }

    /// `(path, value)` when this is `path eq "value"`.
    #[must_use]
    pub fn as_eq_string(&self) -> Option<(&AttrPath, &str)> {
        match self {
            Filter::Compare {
                path,
                op: CompareOp::Eq,
                value: CompValue::String(s),
            } => Some((path, s)),
            _ => None,
        }
    }

    /// The first attribute path in the filter that `schema` does not define
    /// (paths inside a value path's brackets are relative to its element),
    /// so that a typo is `invalidFilter` rather than a filter that silently
    /// matches nothing.
    #[must_use]
    pub fn unknown_attribute(&self, schema: &ResourceSchema) -> Option<String> {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => a
                .unknown_attribute(schema)
                .or_else(|| b.unknown_attribute(schema)),
            Filter::Not(a) => a.unknown_attribute(schema),
            Filter::Compare { path, .. } | Filter::Present { path } => {
                schema.locate(path).is_none().then(|| path.to_string())
            }
            Filter::ValuePath(vp) => {
                if schema.locate(&vp.attr).is_none() {
                    return Some(vp.attr.to_string());
                }
                vp.filter.unknown_inside(&vp.attr, schema)
            }
        }
    }

    /// [`Filter::unknown_attribute`] for the filter inside `attr[...]`.
    fn unknown_inside(&self, attr: &AttrPath, schema: &ResourceSchema) -> Option<String> {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => a
                .unknown_inside(attr, schema)
                .or_else(|| b.unknown_inside(attr, schema)),
            Filter::Not(a) => a.unknown_inside(attr, schema),
            Filter::Compare { path, .. } | Filter::Present { path } => {
                let full = AttrPath {
                    schema: attr.schema.clone(),
                    name: attr.name.clone(),
                    sub_attr: Some(path.name.clone()),
                };
                schema.locate(&full).is_none().then(|| full.to_string())
            }
            // Value paths do not nest (RFC 7644 §3.4.2.2 valFilter).
            Filter::ValuePath(vp) => Some(vp.attr.to_string()),
        }
    }

    /// Whether any comparison, presence test or value path in the filter
    /// names the top-level attribute `attr` (case-insensitively; the schema
    /// URN and sub-attribute are ignored, and attributes inside a value
    /// path's brackets are relative to its element, so they do not count).
    #[must_use]
    pub fn mentions(&self, attr: &str) -> bool {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => a.mentions(attr) || b.mentions(attr),
            Filter::Not(a) => a.mentions(attr),
            Filter::Compare { path, .. } | Filter::Present { path } => {
                path.name.eq_ignore_ascii_case(attr)
            }
            Filter::ValuePath(vp) => vp.attr.name.eq_ignore_ascii_case(attr),
        }
    }

    /// Whether `resource` (canonical SCIM JSON) satisfies the filter.
    ///
    /// String comparison honours `caseExact` from `schema`; `dateTime`
    /// attributes compare as instants; a multi-valued attribute matches when
    /// any of its values does; `ne` holds when no value is equal.
    #[must_use]
    pub fn matches(&self, resource: &Value, schema: &ResourceSchema) -> bool {
        eval::eval(self, resource, eval::Scope::Resource(schema))
    }

    /// Whether one element of a complex attribute described by `parent`
    /// satisfies the filter (paths are relative to the element).
    #[must_use]
    pub fn matches_element(&self, element: &Value, parent: Option<&AttributeDef>) -> bool {
        eval::eval(self, element, eval::Scope::Complex(parent))
    }
}

fn flatten<'a>(
    root: &'a Filter,
    split: impl Fn(&'a Filter) -> Option<(&'a Filter, &'a Filter)>,
) -> Vec<&'a Filter> {
    let mut out = Vec::new();
    let mut stack = vec![root];
    while let Some(f) = stack.pop() {
        if let Some((a, b)) = split(f) {
            stack.push(b);
            stack.push(a);
        } else {
            out.push(f);
        }
    }
    out
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    Top,
    OrRight,
    AndLeft,
    AndRight,
}

fn write_filter(f: &Filter, slot: Slot, out: &mut fmt::Formatter<'_>) -> fmt::Result {
    let parens = match f {
        Filter::Or(..) => matches!(slot, Slot::OrRight | Slot::AndLeft | Slot::AndRight),
        Filter::And(..) => slot == Slot::AndRight,
        _ => false,
    };
    if parens {
        out.write_str("(")?;
    }
    match f {
        Filter::Or(a, b) => {
            write_filter(a, Slot::Top, out)?;
            out.write_str(" or ")?;
            write_filter(b, Slot::OrRight, out)?;
        }
        Filter::And(a, b) => {
            write_filter(a, Slot::AndLeft, out)?;
            out.write_str(" and ")?;
            write_filter(b, Slot::AndRight, out)?;
        }
        Filter::Not(a) => {
            out.write_str("not (")?;
            write_filter(a, Slot::Top, out)?;
            out.write_str(")")?;
        }
        Filter::Compare { path, op, value } => write!(out, "{path} {} {value}", op.as_str())?,
        Filter::Present { path } => write!(out, "{path} pr")?,
        Filter::ValuePath(vp) => {
            write!(out, "{}[", vp.attr)?;
            write_filter(&vp.filter, Slot::Top, out)?;
            out.write_str("]")?;
        }
    }
    if parens {
        out.write_str(")")?;
    }
    Ok(())
}

impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_filter(self, Slot::Top, f)
    }
}

impl fmt::Display for ValuePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}[", self.attr)?;
        write_filter(&self.filter, Slot::Top, f)?;
        f.write_str("]")
    }
}

#[cfg(test)]
mod mentions_tests {
    use super::parse_filter;

    #[test]
    fn mentions_names_top_level_attributes_only() {
        for (filter, attr, expected) in [
            (r#"members.value eq "x""#, "members", true),
            (r#"displayName eq "members""#, "members", false),
            (r#"MEMBERS[value eq "x"]"#, "members", true),
            ("members pr", "Members", true),
            (
                r#"displayName eq "g" and not (members.value eq "x")"#,
                "members",
                true,
            ),
            (
                r#"displayName eq "g" or externalId eq "e""#,
                "members",
                false,
            ),
            (r#"emails[type eq "work"]"#, "type", false),
            (
                r#"urn:ietf:params:scim:schemas:core:2.0:Group:members.value eq "x""#,
                "members",
                true,
            ),
            (r#"membersCount eq "1""#, "members", false),
        ] {
            let f = parse_filter(filter).expect(filter);
            assert_eq!(f.mentions(attr), expected, "{filter} mentions {attr}");
        }
    }
}
