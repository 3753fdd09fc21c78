//! SCIM filters (RFC 7644 §3.4.2.2): the AST, a total parser, `Display`, and
//! evaluation against a SCIM JSON resource.
//!
//! The parser accepts the whole grammar — `eq ne co sw ew gt ge lt le pr`,
//! `and` / `or` / `not`, parentheses, value paths (`emails[type eq "work"]`),
//! sub-attributes and schema-URN-qualified paths, string / number / boolean /
//! null values — with case-insensitive keywords. Invariants: parsing never
//! panics, rejects input longer than [`MAX_FILTER_LEN`] bytes or nested deeper
//! than [`MAX_DEPTH`], rejects trailing input, and `parse_filter(&f.to_string())
//! == Ok(f)` for every AST the parser produces. Errors are `invalidFilter` and
//! name the byte offset where parsing failed.
//!
//! Two tolerances for the Entra dialect: `emails[type eq "work"].value eq "x"`
//! (a value path followed by a sub-attribute comparison) is read as
//! `emails[type eq "work" and value eq "x"]`, and an unquoted word that is
//! neither a keyword nor a number (`externalId eq jyoung`) is read as a string.

use std::cmp::Ordering;
use std::fmt;

use serde_json::{Number, Value};

use super::error::ScimError;
use super::path::get_ci;
use super::path::{attr_path_from_token, is_path_byte, valid_attr_name};
pub use super::path::{parse_attr_path, AttrPath};
use super::schema::{AttrType, AttributeDef, ResourceSchema};

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 8 * 1024;
/// Deepest nesting of parentheses, `not` and value paths accepted.
pub const MAX_DEPTH: usize = 32;

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

    /// Whether `resource` (canonical SCIM JSON) satisfies the filter.
    ///
    /// String comparison honours `caseExact` from `schema`; `dateTime`
    /// attributes compare as instants; a multi-valued attribute matches when
    /// any of its values does; `ne` holds when no value is equal.
    #[must_use]
    pub fn matches(&self, resource: &Value, schema: &ResourceSchema) -> bool {
        eval(self, resource, Scope::Resource(schema))
    }

    /// Whether one element of a complex attribute described by `parent`
    /// satisfies the filter (paths are relative to the element).
    #[must_use]
    pub fn matches_element(&self, element: &Value, parent: Option<&AttributeDef>) -> bool {
        eval(self, element, Scope::Complex(parent))
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

// ---------------------------------------------------------------- parsing

fn is_json_number(word: &str) -> bool {
    let b = word.as_bytes();
    let mut i = 0;
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'-') {
        i += 1;
    }
    match b.get(i) {
        Some(b'0') => i += 1,
        Some(c) if c.is_ascii_digit() => {
            digits(&mut i);
        }
        _ => return false,
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// The exact number a JSON number literal denotes: integers stay integers,
/// everything else is the correctly rounded `f64` (so `Display`, which writes
/// the shortest round-tripping form, parses back to the same value).
fn json_number(word: &str) -> Option<Number> {
    if !word.contains(['.', 'e', 'E']) {
        if let Ok(n) = word.parse::<i64>() {
            return Some(Number::from(n));
        }
        if let Ok(n) = word.parse::<u64>() {
            return Some(Number::from(n));
        }
    }
    word.parse::<f64>().ok().and_then(Number::from_f64)
}

struct Parser<'a> {
    src: &'a str,
    pos: usize,
    depth: usize,
    in_brackets: bool,
}

impl<'a> Parser<'a> {
    fn new(src: &'a str) -> Self {
        Self {
            src,
            pos: 0,
            depth: 0,
            in_brackets: false,
        }
    }

    fn err(&self, at: usize, msg: &str) -> ScimError {
        let near: String = self
            .src
            .get(at..)
            .unwrap_or_default()
            .chars()
            .take(24)
            .collect();
        if near.is_empty() {
            ScimError::invalid_filter(format!("at offset {at} (end of input): {msg}"))
        } else {
            ScimError::invalid_filter(format!("at offset {at} (near '{near}'): {msg}"))
        }
    }

    fn peek(&self) -> Option<u8> {
        self.src.as_bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn skip_ws(&mut self) -> usize {
        let start = self.pos;
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
        self.pos - start
    }

    fn take_while(&mut self, pred: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&pred) {
            self.pos += 1;
        }
        self.src.get(start..self.pos).unwrap_or_default()
    }

    fn expect(&mut self, byte: u8, what: &str) -> Result<(), ScimError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(self.pos, &format!("expected {what}")))
        }
    }

    fn enter(&mut self, at: usize) -> Result<(), ScimError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(at, &format!("nested deeper than {MAX_DEPTH} levels")));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Matches a keyword at the cursor (case-insensitively) followed by
    /// whitespace or `(`, and consumes it.
    fn eat_keyword(&mut self, kw: &str) -> bool {
        let end = self.pos + kw.len();
        let matches = self
            .src
            .get(self.pos..end)
            .is_some_and(|w| w.eq_ignore_ascii_case(kw));
        let boundary = self
            .src
            .as_bytes()
            .get(end)
            .is_some_and(|b| b.is_ascii_whitespace() || *b == b'(');
        if matches && boundary {
            self.pos = end;
            true
        } else {
            false
        }
    }

    fn parse_or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.parse_and()?;
        loop {
            let save = self.pos;
            self.skip_ws();
            if self.eat_keyword("or") {
                let right = self.parse_and()?;
                left = Filter::or(left, right);
            } else {
                self.pos = save;
                return Ok(left);
            }
        }
    }

    fn parse_and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.parse_unary()?;
        loop {
            let save = self.pos;
            self.skip_ws();
            if self.eat_keyword("and") {
                let right = self.parse_unary()?;
                left = Filter::and(left, right);
            } else {
                self.pos = save;
                return Ok(left);
            }
        }
    }

    fn parse_unary(&mut self) -> Result<Filter, ScimError> {
        self.skip_ws();
        let start = self.pos;
        let save = self.pos;
        if self.eat_keyword("not") {
            self.skip_ws();
            if self.peek() == Some(b'(') {
                self.enter(start)?;
                self.pos += 1;
                let inner = self.parse_or()?;
                self.skip_ws();
                self.expect(b')', "')' closing 'not ('")?;
                self.leave();
                return Ok(Filter::negate(inner));
            }
            self.pos = save;
        }
        if self.peek() == Some(b'(') {
            self.enter(start)?;
            self.pos += 1;
            let inner = self.parse_or()?;
            self.skip_ws();
            self.expect(b')', "')'")?;
            self.leave();
            return Ok(inner);
        }
        self.parse_attr_exp()
    }

    fn parse_path_token(&mut self) -> Result<AttrPath, ScimError> {
        let start = self.pos;
        let tok = self.take_while(is_path_byte);
        if tok.is_empty() {
            return Err(self.err(start, "expected an attribute path, '(' or 'not'"));
        }
        attr_path_from_token(tok).map_err(|m| self.err(start, &m))
    }

    fn parse_sub_name(&mut self) -> Result<String, ScimError> {
        let start = self.pos;
        let tok = self.take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'$'));
        if valid_attr_name(tok) {
            Ok(tok.to_owned())
        } else {
            Err(self.err(start, "expected a sub-attribute name after '.'"))
        }
    }

    /// `attr[filter]` after the attribute token, cursor on `[`.
    fn parse_bracket(&mut self, attr: &AttrPath, start: usize) -> Result<Filter, ScimError> {
        if self.in_brackets {
            return Err(self.err(self.pos, "value paths cannot be nested"));
        }
        if attr.sub_attr.is_some() {
            return Err(self.err(
                start,
                "a value filter must follow an attribute, not a sub-attribute",
            ));
        }
        self.enter(self.pos)?;
        self.pos += 1;
        self.in_brackets = true;
        let inner = self.parse_or()?;
        self.in_brackets = false;
        self.skip_ws();
        self.expect(b']', "']' closing the value filter")?;
        self.leave();
        Ok(inner)
    }

    fn parse_attr_exp(&mut self) -> Result<Filter, ScimError> {
        let start = self.pos;
        let path = self.parse_path_token()?;
        if self.peek() == Some(b'[') {
            let inner = self.parse_bracket(&path, start)?;
            if self.peek() == Some(b'.') {
                self.pos += 1;
                let sub = self.parse_sub_name()?;
                let cond = self.parse_op_and_value(AttrPath::new(sub))?;
                return Ok(Filter::ValuePath(ValuePath {
                    attr: path,
                    filter: Box::new(Filter::and(inner, cond)),
                }));
            }
            return Ok(Filter::ValuePath(ValuePath {
                attr: path,
                filter: Box::new(inner),
            }));
        }
        self.parse_op_and_value(path)
    }

    fn parse_op_and_value(&mut self, path: AttrPath) -> Result<Filter, ScimError> {
        if self.skip_ws() == 0 {
            return Err(self.err(
                self.pos,
                "expected a space and an operator after the attribute path",
            ));
        }
        let op_start = self.pos;
        let word = self.take_while(|b| b.is_ascii_alphabetic());
        if word.eq_ignore_ascii_case("pr") {
            let boundary = self
                .peek()
                .is_none_or(|b| b.is_ascii_whitespace() || b == b')' || b == b']');
            if !boundary {
                return Err(self.err(self.pos, "unexpected character after 'pr'"));
            }
            return Ok(Filter::Present { path });
        }
        let Some(op) = CompareOp::from_keyword(word) else {
            return Err(self.err(
                op_start,
                "expected an operator (eq ne co sw ew gt ge lt le pr)",
            ));
        };
        if self.skip_ws() == 0 {
            return Err(self.err(self.pos, "expected a space and a value after the operator"));
        }
        let value = self.parse_value()?;
        Ok(Filter::Compare { path, op, value })
    }

    fn parse_value(&mut self) -> Result<CompValue, ScimError> {
        let start = self.pos;
        if self.peek() == Some(b'"') {
            let bytes = self.src.as_bytes();
            let mut i = self.pos + 1;
            loop {
                match bytes.get(i) {
                    None => return Err(self.err(start, "unterminated string")),
                    Some(b'\\') => i += 2,
                    Some(b'"') => break,
                    Some(_) => i += 1,
                }
            }
            let literal = self.src.get(start..=i).unwrap_or_default();
            let s: String = serde_json::from_str(literal)
                .map_err(|_| self.err(start, "invalid string literal (JSON string expected)"))?;
            self.pos = i + 1;
            return Ok(CompValue::String(s));
        }
        let word = self.take_while(|b| {
            !b.is_ascii_whitespace() && !matches!(b, b'(' | b')' | b'[' | b']' | b'"')
        });
        if word.is_empty() {
            return Err(self.err(start, "expected a value"));
        }
        if word.eq_ignore_ascii_case("true") {
            Ok(CompValue::Bool(true))
        } else if word.eq_ignore_ascii_case("false") {
            Ok(CompValue::Bool(false))
        } else if word.eq_ignore_ascii_case("null") {
            Ok(CompValue::Null)
        } else if is_json_number(word) {
            json_number(word)
                .map(CompValue::Number)
                .ok_or_else(|| self.err(start, "number out of range"))
        } else {
            Ok(CompValue::String(word.to_owned()))
        }
    }
}

/// Parses a filter expression.
pub fn parse_filter(input: &str) -> Result<Filter, ScimError> {
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_filter(format!(
            "filter is {} bytes, longer than the {MAX_FILTER_LEN} accepted",
            input.len()
        )));
    }
    let mut p = Parser::new(input);
    p.skip_ws();
    if p.at_end() {
        return Err(p.err(p.pos, "empty filter"));
    }
    let filter = p.parse_or()?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.err(p.pos, "unexpected trailing input"));
    }
    Ok(filter)
}

/// Parses a PATCH path (RFC 7644 §3.5.2: `attrPath` or `valuePath [subAttr]`)
/// into the attribute path (with the trailing sub-attribute, if any) and the
/// value filter. Errors are `invalidPath`.
pub(crate) fn parse_path_expr(input: &str) -> Result<(AttrPath, Option<Filter>), ScimError> {
    let to_path_err = |e: ScimError| ScimError::invalid_path(format!("invalid path: {}", e.detail));
    if input.len() > MAX_FILTER_LEN {
        return Err(ScimError::invalid_path("path too long"));
    }
    let mut p = Parser::new(input.trim());
    let start = p.pos;
    let mut path = p.parse_path_token().map_err(to_path_err)?;
    let mut filter = None;
    if p.peek() == Some(b'[') {
        filter = Some(p.parse_bracket(&path, start).map_err(to_path_err)?);
        if p.peek() == Some(b'.') {
            p.pos += 1;
            path.sub_attr = Some(p.parse_sub_name().map_err(to_path_err)?);
        }
    }
    if !p.at_end() {
        return Err(to_path_err(p.err(p.pos, "unexpected trailing input")));
    }
    Ok((path, filter))
}

// ------------------------------------------------------------- evaluation

#[derive(Clone, Copy)]
enum Scope<'s> {
    Resource(&'s ResourceSchema),
    Complex(Option<&'s AttributeDef>),
}

fn push_flat<'v>(v: &'v Value, out: &mut Vec<&'v Value>) {
    match v {
        Value::Array(items) => out.extend(items.iter()),
        other => out.push(other),
    }
}

/// The definition and the values `path` selects in `obj`; arrays are
/// flattened, so a multi-valued attribute yields one entry per element.
fn lookup<'v, 's>(
    obj: &'v Value,
    path: &AttrPath,
    scope: Scope<'s>,
) -> (Option<&'s AttributeDef>, Vec<&'v Value>) {
    let Some(map) = obj.as_object() else {
        return (None, Vec::new());
    };
    let (attr_def, sub_def, top) = match scope {
        Scope::Resource(schema) => {
            if let Some(loc) = schema.locate(path) {
                let container = if loc.is_core {
                    Some(map)
                } else {
                    get_ci(map, &loc.schema.id).and_then(Value::as_object)
                };
                (
                    Some(loc.attr),
                    loc.sub,
                    container.and_then(|c| get_ci(c, &loc.attr.name)),
                )
            } else {
                // Not in the schema: read it raw, compare case-insensitively.
                let container = match path.schema.as_deref() {
                    Some(urn) => get_ci(map, urn).and_then(Value::as_object),
                    None => Some(map),
                };
                (None, None, container.and_then(|c| get_ci(c, &path.name)))
            }
        }
        Scope::Complex(parent) => {
            let def = parent.and_then(|p| p.sub_attribute(&path.name));
            (def, None, get_ci(map, &path.name))
        }
    };
    let mut values = Vec::new();
    if let Some(top) = top {
        push_flat(top, &mut values);
    }
    match path.sub_attr.as_deref() {
        None => (attr_def, values),
        Some(sub) => {
            let mut subs = Vec::new();
            for v in values {
                if let Some(sv) = v.as_object().and_then(|m| get_ci(m, sub)) {
                    push_flat(sv, &mut subs);
                }
            }
            (sub_def, subs)
        }
    }
}

fn eval(f: &Filter, obj: &Value, scope: Scope<'_>) -> bool {
    match f {
        Filter::And(a, b) => eval(a, obj, scope) && eval(b, obj, scope),
        Filter::Or(a, b) => eval(a, obj, scope) || eval(b, obj, scope),
        Filter::Not(a) => !eval(a, obj, scope),
        Filter::Present { path } => lookup(obj, path, scope).1.into_iter().any(is_present),
        Filter::Compare { path, op, value } => {
            let (def, values) = lookup(obj, path, scope);
            compare_any(&values, def, *op, value)
        }
        Filter::ValuePath(vp) => {
            let (def, elements) = lookup(obj, &vp.attr, scope);
            elements
                .into_iter()
                .any(|el| eval(&vp.filter, el, Scope::Complex(def)))
        }
    }
}

fn is_present(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
        Value::Bool(_) | Value::Number(_) => true,
    }
}

fn compare_any(
    values: &[&Value],
    def: Option<&AttributeDef>,
    op: CompareOp,
    cv: &CompValue,
) -> bool {
    match (op, cv) {
        (CompareOp::Ne, _) => !compare_any(values, def, CompareOp::Eq, cv),
        (CompareOp::Eq, CompValue::Null) => values.iter().all(|v| v.is_null()),
        (_, CompValue::Null) => false,
        _ => values.iter().any(|v| compare_one(v, def, op, cv)),
    }
}

fn ordering_holds(ord: Ordering, op: CompareOp) -> bool {
    match op {
        CompareOp::Eq => ord == Ordering::Equal,
        CompareOp::Ne => ord != Ordering::Equal,
        CompareOp::Gt => ord == Ordering::Greater,
        CompareOp::Ge => ord != Ordering::Less,
        CompareOp::Lt => ord == Ordering::Less,
        CompareOp::Le => ord != Ordering::Greater,
        CompareOp::Co | CompareOp::Sw | CompareOp::Ew => false,
    }
}

fn number_cmp(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}

fn compare_one(v: &Value, def: Option<&AttributeDef>, op: CompareOp, cv: &CompValue) -> bool {
    // A complex value compared without a sub-attribute compares its `value`.
    let (v, def) = match v {
        Value::Object(m) => match get_ci(m, "value") {
            Some(inner) => (inner, def.and_then(|d| d.sub_attribute("value"))),
            None => return false,
        },
        other => (other, def),
    };
    match (v, cv) {
        (Value::String(a), CompValue::String(b)) => compare_strings(a, b, def, op),
        (Value::Number(a), CompValue::Number(b)) => {
            number_cmp(a, b).is_some_and(|ord| ordering_holds(ord, op))
        }
        (Value::Bool(a), CompValue::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        _ => false,
    }
}

fn compare_strings(a: &str, b: &str, def: Option<&AttributeDef>, op: CompareOp) -> bool {
    let is_date = def.is_some_and(|d| d.type_ == AttrType::DateTime);
    if is_date && !matches!(op, CompareOp::Co | CompareOp::Sw | CompareOp::Ew) {
        if let (Ok(x), Ok(y)) = (
            chrono::DateTime::parse_from_rfc3339(a),
            chrono::DateTime::parse_from_rfc3339(b),
        ) {
            return ordering_holds(x.cmp(&y), op);
        }
    }
    let case_exact = def.is_some_and(|d| d.case_exact);
    let (a, b) = if case_exact {
        (a.to_owned(), b.to_owned())
    } else {
        (a.to_lowercase(), b.to_lowercase())
    };
    match op {
        CompareOp::Co => a.contains(&b),
        CompareOp::Sw => a.starts_with(&b),
        CompareOp::Ew => a.ends_with(&b),
        _ => ordering_holds(a.cmp(&b), op),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn p(s: &str) -> Filter {
        match parse_filter(s) {
            Ok(f) => f,
            Err(e) => panic!("{s}: {e}"),
        }
    }

    fn eq(path: AttrPath, s: &str) -> Filter {
        Filter::compare(path, CompareOp::Eq, CompValue::String(s.into()))
    }

    #[test]
    fn parses_entra_lookups() {
        assert_eq!(
            p(r#"userName eq "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081""#),
            eq(
                AttrPath::new("userName"),
                "Test_User_dfeef4c5-5681-4387-b016-bdf221e82081"
            )
        );
        assert_eq!(
            p(r#"displayName eq "displayName""#),
            eq(AttrPath::new("displayName"), "displayName")
        );
        // Microsoft's tutorial shows the value unquoted.
        assert_eq!(
            p("externalId eq jyoung"),
            eq(AttrPath::new("externalId"), "jyoung")
        );
    }

    #[test]
    fn value_path_with_trailing_sub_attribute_comparison_is_folded_into_the_brackets() {
        let f = p(r#"emails[type eq "work"].value eq "a@b.c""#);
        assert_eq!(
            f,
            Filter::ValuePath(ValuePath {
                attr: AttrPath::new("emails"),
                filter: Box::new(Filter::and(
                    eq(AttrPath::new("type"), "work"),
                    eq(AttrPath::new("value"), "a@b.c")
                )),
            })
        );
        assert_eq!(
            f.to_string(),
            r#"emails[type eq "work" and value eq "a@b.c"]"#
        );
    }

    #[test]
    fn operators_and_keywords_are_case_insensitive() {
        assert_eq!(
            p(r#"userName EQ "x" AND Active Eq TRUE"#),
            Filter::and(
                eq(AttrPath::new("userName"), "x"),
                Filter::compare(
                    AttrPath::new("Active"),
                    CompareOp::Eq,
                    CompValue::Bool(true)
                )
            )
        );
        assert_eq!(
            p("title PR"),
            Filter::Present {
                path: AttrPath::new("title")
            }
        );
        assert!(matches!(p("NOT (title pr)"), Filter::Not(_)));
    }

    #[test]
    fn and_binds_tighter_than_or_and_display_keeps_grouping() {
        let f = p("a pr or b pr and c pr");
        assert_eq!(
            f,
            Filter::or(
                Filter::Present {
                    path: AttrPath::new("a")
                },
                Filter::and(
                    Filter::Present {
                        path: AttrPath::new("b")
                    },
                    Filter::Present {
                        path: AttrPath::new("c")
                    }
                )
            )
        );
        let g = p("(a pr or b pr) and c pr");
        assert_eq!(g.to_string(), "(a pr or b pr) and c pr");
        assert_eq!(p(&g.to_string()), g);
        let h = p("a pr or (b pr or c pr)");
        assert_eq!(h.to_string(), "a pr or (b pr or c pr)");
    }

    #[test]
    fn parses_urn_qualified_paths_and_rfc_examples() {
        let f = p(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#,
        );
        assert_eq!(
            f,
            eq(
                AttrPath::new("employeeNumber")
                    .with_schema("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"),
                "701984"
            )
        );
        for s in [
            r#"name.familyName co "O'Malley""#,
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J""#,
            r#"meta.lastModified gt "2011-05-13T04:42:34Z""#,
            r#"title pr and userType eq "Employee""#,
            r#"title pr or userType eq "Intern""#,
            r#"schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User""#,
            r#"userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")"#,
            r#"userType eq "Employee" and emails[type eq "work" and value co "@example.com"]"#,
            r#"emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]"#,
            "members[value eq \"7f4bc1a3-285e-48ae-8202-5accb43efb0e\"]",
            "loginCount ge 10 and ratio lt -1.5e3 and x eq null and y ne false",
            r#"name.givenName eq "Ba\"bs\\\u00e9""#,
        ] {
            let f = p(s);
            assert_eq!(p(&f.to_string()), f, "{s}");
        }
    }

    #[test]
    fn errors_are_invalid_filter_with_offsets() {
        for (s, offset) in [
            ("userName eq", 11),
            ("userName xx \"a\"", 9),
            ("userName eq \"a\" garbage", 16),
            ("(userName pr", 12),
            ("userName eq \"a", 12),
            ("emails[type eq \"w\"", 18),
            ("emails[a[b pr]]", 8),
            ("", 0),
            ("a:b eq 1", 0),
            ("a.b.c eq 1", 0),
            ("x eq 1e999", 5),
            ("a pr)", 4),
        ] {
            let e = parse_filter(s).expect_err(s);
            assert_eq!(
                e.scim_type,
                Some(crate::scim::error::ScimType::InvalidFilter),
                "{s}"
            );
            assert!(
                e.detail.contains(&format!("offset {offset}")),
                "{s}: {}",
                e.detail
            );
        }
    }

    #[test]
    fn bounds_length_and_depth() {
        let long = format!("userName eq \"{}\"", "a".repeat(MAX_FILTER_LEN));
        assert!(parse_filter(&long).is_err());
        let deep = format!(
            "{}a pr{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        assert!(parse_filter(&deep).is_err());
        let ok = format!("{}a pr{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert!(parse_filter(&ok).is_ok());
        let nots = format!("{}a pr{}", "not (".repeat(40), ")".repeat(40));
        assert!(parse_filter(&nots).is_err());
    }

    #[test]
    fn longest_chains_within_the_length_bound_parse_display_and_evaluate() {
        let mut text = "a pr".to_owned();
        while text.len() + 16 < MAX_FILTER_LEN {
            text.push_str(" or b pr and a pr");
        }
        let f = p(&text);
        assert_eq!(p(&f.to_string()), f);
        assert!(f.matches(&json!({"a": 1}), &ResourceSchema::user()));
        assert!(f.conjuncts().len() == 1 && f.disjuncts().len() > 400);
    }

    #[test]
    fn attr_path_parsing() {
        assert_eq!(
            parse_attr_path(
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
            ),
            Ok(AttrPath::new("manager")
                .with_schema("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
                .with_sub("value"))
        );
        assert_eq!(
            parse_attr_path("members.$ref"),
            Ok(AttrPath::new("members").with_sub("$ref"))
        );
        assert!(parse_attr_path("emails[type eq \"work\"]").is_err());
        assert!(parse_attr_path("").is_err());
        assert!(parse_attr_path("urn:").is_err());
    }

    fn user() -> Value {
        json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User",
                        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            "id": "2819c223",
            "externalId": "Ext-1",
            "userName": "Bjensen@Example.com",
            "name": {"familyName": "Jensen", "givenName": "Barbara"},
            "active": true,
            "emails": [
                {"value": "bjensen@example.com", "type": "work", "primary": true},
                {"value": "babs@jensen.org", "type": "home"}
            ],
            "meta": {"lastModified": "2011-05-13T04:42:34Z", "created": "2010-01-23T04:56:22Z"},
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
                "employeeNumber": "701984",
                "manager": {"value": "26118915"}
            }
        })
    }

    #[test]
    fn evaluation_honours_case_exact_and_types() {
        let s = ResourceSchema::user();
        let u = user();
        let m = |f: &str| p(f).matches(&u, &s);
        assert!(
            m(r#"userName eq "bjensen@example.com""#),
            "userName is caseExact false"
        );
        assert!(m(r#"USERNAME Eq "BJENSEN@EXAMPLE.COM""#));
        assert!(
            !m(r#"externalId eq "ext-1""#),
            "externalId is caseExact true"
        );
        assert!(m(r#"externalId eq "Ext-1""#));
        assert!(m(r#"id eq "2819c223""#));
        assert!(m("active eq true"));
        assert!(!m("active eq false"));
        assert!(m(
            r#"emails[type eq "work"].value eq "bjensen@example.com""#
        ));
        assert!(!m(
            r#"emails[type eq "home"].value eq "bjensen@example.com""#
        ));
        assert!(m(r#"emails co "jensen.org""#));
        assert!(m(r#"emails.value ew "@jensen.org""#));
        assert!(m(r#"name.familyName sw "jen""#));
        assert!(m(r#"meta.lastModified gt "2011-05-13T04:42:33Z""#));
        assert!(m(r#"meta.lastModified lt "2011-05-13T06:42:34+01:00""#));
        assert!(m(r#"meta.lastModified ge "2011-05-13T05:42:34+01:00""#));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "701984""#
        ));
        assert!(m(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915""#
        ));
        assert!(m("title eq null"));
        assert!(m(r#"title ne "x""#));
        assert!(m("not (title pr) and userName pr"));
        assert!(!m(r#"userName eq "non-existent user""#));
        assert!(!m("userName gt 3"));
    }

    #[test]
    fn conjuncts_and_disjuncts() {
        let f = p(r#"a eq "1" and (b eq "2" and c pr) and (d pr or e pr)"#);
        let c = f.conjuncts();
        assert_eq!(c.len(), 4);
        assert_eq!(c[0].as_eq_string(), Some((&AttrPath::new("a"), "1")));
        assert_eq!(c[3].disjuncts().len(), 2);
        let single = p("a pr");
        assert_eq!(single.conjuncts(), vec![&single]);
    }
}
