//! The filter parser (RFC 7644 §3.4.2.2), and the PATCH path parser built on it.
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

use serde_json::Number;

use super::{CompValue, CompareOp, Filter, ValuePath};
use crate::scim::error::ScimError;
use crate::scim::path::{attr_path_from_token, is_path_byte, valid_attr_name, AttrPath};

/// Longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 8 * 1024;
/// Deepest nesting of parentheses, `not` and value paths accepted.
pub const MAX_DEPTH: usize = 32;

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
