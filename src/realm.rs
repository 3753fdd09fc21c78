//! `RealmName`: a Keycloak realm name checked once, at the edge (the URL
//! path, the settings file, the command line), and passed as this type by
//! every layer after that. A leaf: it imports nothing from the crate.
//!
//! Realm names become URL path segments and client attribute names, so the
//! sidecar keeps them to Keycloak's common, URL-safe subset.

use std::fmt;

/// A realm name of 1-64 letters, digits, `-`, `_` or `.`, never `.` or `..`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RealmName(String);

/// Why a string is not a realm name the sidecar accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidRealmName(String);

impl fmt::Display for InvalidRealmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "realm name {:?} must be 1-64 characters of letters, digits, '-', '_' or '.'",
            self.0
        )
    }
}

impl std::error::Error for InvalidRealmName {}

impl RealmName {
    /// Checks `name` and wraps it.
    pub fn parse(name: &str) -> Result<Self, InvalidRealmName> {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
            && name != "."
            && name != "..";
        if ok {
            Ok(Self(name.to_owned()))
        } else {
            // Bounded, so a hostile path does not end up whole in an error.
            Err(InvalidRealmName(name.chars().take(80).collect()))
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for RealmName {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for RealmName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RealmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RealmName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl std::str::FromStr for RealmName {
    type Err = InvalidRealmName;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl<'de> serde::Deserialize<'de> for RealmName {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for RealmName {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::RealmName;

    #[test]
    fn accepts_the_url_safe_subset() {
        for ok in ["demo", "a", "tenant-1", "my_realm", "v1.2", &"x".repeat(64)] {
            assert_eq!(
                RealmName::parse(ok).map(|r| r.to_string()),
                Ok(ok.to_owned())
            );
        }
    }

    #[test]
    fn rejects_everything_else() {
        for bad in [
            "",
            ".",
            "..",
            "a/b",
            "a b",
            "é",
            "a%2F",
            "a\nb",
            &"x".repeat(65),
        ] {
            assert!(RealmName::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn the_error_names_the_rule_and_is_bounded() {
        let long = "/".repeat(10_000);
        let e = RealmName::parse(&long)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("1-64 characters"), "{e}");
        assert!(e.len() < 200, "{}", e.len());
    }

    #[test]
    fn deserializes_only_valid_names() {
        assert!(serde_json::from_str::<RealmName>("\"demo\"").is_ok());
        assert!(serde_json::from_str::<RealmName>("\"a/b\"").is_err());
    }
}
