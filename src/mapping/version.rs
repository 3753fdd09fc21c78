//! `meta.version`: a weak `ETag` over a resource's JSON, the first 8 bytes
//! of its SHA-256 in hex.
//!
//! Invariant: the hashed bytes are exactly the compact JSON of the value
//! (what `Value::to_string` prints), streamed into the hash without building
//! the string, so a version never changes with how it is computed.

use std::fmt::Write as _;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// Feeds what a serializer writes straight into the hash.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `W/"<16 hex digits>"` over the compact JSON of `value`.
#[must_use]
pub fn weak_etag(value: &impl Serialize) -> String {
    let mut writer = HashWriter(Sha256::new());
    // Writing into the hash cannot fail, nor can serialising JSON values:
    // an error would only leave the version of what was written so far.
    let _ = serde_json::to_writer(&mut writer, value);
    let digest = writer.0.finalize();
    let mut out = String::with_capacity(20);
    out.push_str("W/\"");
    for b in digest.iter().take(8) {
        let _ = write!(out, "{b:02x}");
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// What the version was before it was streamed: the hash of the string.
    fn of_string(value: &serde_json::Value) -> String {
        let digest = Sha256::digest(value.to_string().as_bytes());
        let hex = digest.iter().take(8).fold(String::new(), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        });
        format!("W/\"{hex}\"")
    }

    #[test]
    fn streamed_version_equals_the_version_of_the_printed_json() {
        for v in [
            json!({}),
            json!({"id": "1", "userName": "ä\"\\\n", "emails": [{"value": "a@b", "primary": true}],
                   "n": 1.5, "x": null, "meta": {"resourceType": "User"}}),
            json!(["a", 1, {"b": [true, false]}]),
        ] {
            assert_eq!(weak_etag(&v), of_string(&v), "{v}");
        }
    }

    #[test]
    fn a_tuple_has_the_version_of_the_array_it_prints_as() {
        let attributes: std::collections::BTreeMap<String, Vec<String>> = [(
            "scimCreated".to_owned(),
            vec!["2026-01-01T00:00:00.000Z".to_owned()],
        )]
        .into();
        let (id, name) = (Some("g-1".to_owned()), "Sales".to_owned());
        assert_eq!(
            weak_etag(&(&id, &name, &Some(&attributes))),
            of_string(&json!([id, name, attributes]))
        );
    }

    #[test]
    fn version_is_weak_and_sixteen_hex_digits() {
        let v = weak_etag(&json!({"a": 1}));
        assert!(v.starts_with("W/\"") && v.ends_with('"'));
        assert_eq!(v.len(), 3 + 16 + 1);
        assert!(v[3..19].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(v, weak_etag(&json!({"a": 2})));
    }
}
