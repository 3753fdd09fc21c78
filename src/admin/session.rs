//! The admin page's cookies, encrypted and authenticated with one key
//! (`cookie`'s private jar: AES-256-GCM), so they carry all sign-in state
//! and any replica with the same key serves any request.
//!
//! Two cookies, both `HttpOnly`, path-scoped to the realm's page and
//! `Secure` when the page's public URL is `https`:
//! - `kcscim_admin_login`: the pending sign-in (state, PKCE verifier),
//!   `SameSite=Lax` so it comes back with Keycloak's redirect, ten minutes;
//! - `kcscim_admin`: the signed-in admin (user id, username, Keycloak
//!   session id, ID token for sign-out, CSRF token, expiry), `SameSite=Strict`.
//!
//! Invariant: a cookie is only believed when it decrypts with the key, names
//! the realm of the request and has not expired.

use base64::Engine;
use cookie::{Cookie, CookieJar, Key, SameSite};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "kcscim_admin";
/// Name of the pending sign-in cookie.
pub const LOGIN_COOKIE: &str = "kcscim_admin_login";
/// How long a sign-in may take at Keycloak, in seconds.
pub const LOGIN_TTL_SECS: i64 = 600;
/// Largest `Cookie` header read (the two cookies fit in a quarter of it).
const MAX_COOKIE_HEADER: usize = 8 * 1024;

/// A signed-in admin, as the session cookie carries it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Session {
    /// The realm signed in to.
    pub realm: String,
    /// The Keycloak user id (`sub`).
    pub user_id: String,
    /// The username (`preferred_username`), for the page and the audit log.
    pub username: String,
    /// The Keycloak session id (`sid`): the page is used only while it lives.
    pub sid: String,
    /// The ID token, sent back to Keycloak as `id_token_hint` on sign-out.
    pub id_token: String,
    /// The CSRF token every form carries.
    pub csrf: String,
    /// Unix time after which the session is over.
    pub expires: i64,
}

/// A sign-in under way.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct PendingLogin {
    /// The realm.
    pub realm: String,
    /// The OAuth `state`.
    pub state: String,
    /// The PKCE code verifier.
    pub verifier: String,
    /// The OIDC `nonce`, checked in the ID token.
    pub nonce: String,
    /// Unix time after which the sign-in is abandoned.
    pub expires: i64,
}

/// Seals and opens the cookies.
pub struct CookieSealer {
    key: Key,
    secure: bool,
}

/// Why the configured cookie key is unusable.
#[derive(Debug, thiserror::Error)]
#[error("admin.cookie_key must be base64 of at least 64 bytes")]
pub struct BadCookieKey;

impl CookieSealer {
    /// From the configured key (base64, ≥ 64 bytes), or a random one.
    pub fn new(key_b64: Option<&str>, secure: bool) -> Result<Self, BadCookieKey> {
        let key = match key_b64 {
            Some(b64) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(b64.trim())
                    .map_err(|_| BadCookieKey)?;
                Key::try_from(bytes.as_slice()).map_err(|_| BadCookieKey)?
            }
            None => Key::try_generate().ok_or(BadCookieKey)?,
        };
        Ok(Self { key, secure })
    }

    /// The decrypted value of cookie `name` in a `Cookie` header.
    fn open_raw(&self, header: Option<&str>, name: &str) -> Option<String> {
        let header = header.filter(|h| h.len() <= MAX_COOKIE_HEADER)?;
        let mut jar = CookieJar::new();
        for c in Cookie::split_parse(header).flatten() {
            if c.name() == name {
                jar.add_original(c.into_owned());
            }
        }
        jar.private(&self.key)
            .get(name)
            .map(|c| c.value().to_owned())
    }

    fn open<T: for<'de> Deserialize<'de>>(&self, header: Option<&str>, name: &str) -> Option<T> {
        serde_json::from_str(&self.open_raw(header, name)?).ok()
    }

    /// The session of `realm` in a `Cookie` header, if valid at `now`.
    #[must_use]
    pub fn session(&self, header: Option<&str>, realm: &str, now: i64) -> Option<Session> {
        self.open::<Session>(header, SESSION_COOKIE)
            .filter(|s| s.realm == realm && s.expires > now)
    }

    /// The pending sign-in of `realm`, if valid at `now`.
    #[must_use]
    pub fn pending(&self, header: Option<&str>, realm: &str, now: i64) -> Option<PendingLogin> {
        self.open::<PendingLogin>(header, LOGIN_COOKIE)
            .filter(|p| p.realm == realm && p.expires > now)
    }

    fn seal(
        &self,
        name: &'static str,
        value: String,
        path: &str,
        same_site: SameSite,
        max_age: i64,
    ) -> String {
        let mut jar = CookieJar::new();
        let cookie = Cookie::build((name, value))
            .path(path.to_owned())
            .http_only(true)
            .secure(self.secure)
            .same_site(same_site)
            .max_age(cookie::time::Duration::seconds(max_age))
            .build();
        jar.private_mut(&self.key).add(cookie);
        jar.get(name).map(ToString::to_string).unwrap_or_default()
    }

    /// `Set-Cookie` value of a session for the page at `path`.
    #[must_use]
    pub fn seal_session(&self, session: &Session, path: &str, now: i64) -> String {
        let value = serde_json::to_string(session).unwrap_or_default();
        self.seal(
            SESSION_COOKIE,
            value,
            path,
            SameSite::Strict,
            session.expires - now,
        )
    }

    /// `Set-Cookie` value of a pending sign-in for the page at `path`.
    #[must_use]
    pub fn seal_pending(&self, pending: &PendingLogin, path: &str) -> String {
        let value = serde_json::to_string(pending).unwrap_or_default();
        self.seal(LOGIN_COOKIE, value, path, SameSite::Lax, LOGIN_TTL_SECS)
    }

    /// `Set-Cookie` value that removes cookie `name` at `path`.
    #[must_use]
    pub fn removal(&self, name: &'static str, path: &str) -> String {
        Cookie::build((name, ""))
            .path(path.to_owned())
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::ZERO)
            .build()
            .to_string()
    }
}

/// A random URL-safe token of 32 bytes (CSRF token, state, nonce).
#[must_use]
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Whether `given` equals `expected`, in constant time.
#[must_use]
pub fn same_secret(given: &str, expected: &str) -> bool {
    !expected.is_empty() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(realm: &str, expires: i64) -> Session {
        Session {
            realm: realm.to_owned(),
            user_id: "u".to_owned(),
            username: "alice".to_owned(),
            sid: "s".to_owned(),
            id_token: "t".to_owned(),
            csrf: random_token(),
            expires,
        }
    }

    fn header_of(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap_or_default().to_owned()
    }

    #[test]
    fn a_sealed_session_opens_only_for_its_realm_before_it_expires() {
        let sealer = CookieSealer::new(None, false).expect("key");
        let s = session("demo", 1_000);
        let set = sealer.seal_session(&s, "/realms/demo/scim/admin/", 100);
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict"),
            "{set}"
        );
        assert!(!set.contains("alice"), "the cookie is encrypted: {set}");
        let header = header_of(&set);
        assert_eq!(sealer.session(Some(&header), "demo", 100), Some(s));
        assert_eq!(sealer.session(Some(&header), "other", 100), None);
        assert_eq!(sealer.session(Some(&header), "demo", 1_000), None);
    }

    #[test]
    fn a_cookie_of_another_key_or_tampered_is_refused() {
        let a = CookieSealer::new(None, false).expect("key");
        let b = CookieSealer::new(None, false).expect("key");
        let header = header_of(&a.seal_session(&session("demo", 1_000), "/", 0));
        assert_eq!(b.session(Some(&header), "demo", 0), None);
        let mut tampered = header.clone();
        tampered.pop();
        tampered.push(if header.ends_with('A') { 'B' } else { 'A' });
        assert_eq!(a.session(Some(&tampered), "demo", 0), None);
    }

    #[test]
    fn a_configured_key_is_shared_by_replicas_and_a_short_key_refused() {
        let key = base64::engine::general_purpose::STANDARD.encode([7u8; 64]);
        let a = CookieSealer::new(Some(&key), true).expect("key");
        let b = CookieSealer::new(Some(&key), true).expect("key");
        let set = a.seal_session(&session("demo", 1_000), "/", 0);
        assert!(set.contains("Secure"), "{set}");
        assert!(b.session(Some(&header_of(&set)), "demo", 0).is_some());
        let short = base64::engine::general_purpose::STANDARD.encode([7u8; 16]);
        assert!(CookieSealer::new(Some(&short), false).is_err());
        assert!(CookieSealer::new(Some("not base64!"), false).is_err());
    }

    #[test]
    fn secrets_compare_equal_only_when_equal_and_never_when_empty() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abd", "abc"));
        assert!(!same_secret("", ""));
        assert!(!same_secret("abc", "abcd"));
    }
}
