//! The per-realm cache of loaded state: one entry per realm, loaded
//! single-flight, kept for the TTL (a "no SCIM endpoint" answer for
//! [`NEGATIVE_TTL`]), and a short memo of loads that failed because Keycloak
//! was unavailable.
//!
//! Invariant: at most one load per cache runs at a time, and while a load
//! failure is recent ([`FAILURE_MEMO`]) no new load starts: waiting requests
//! get `Unavailable` at once instead of each timing out in turn.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, RwLock};

use crate::directory::DirectoryError;

/// A cached load: when it happened, and the value or why there is none.
pub(super) type Entry<T> = (Instant, Result<Arc<T>, String>);

/// A per-realm cache with single-flight loading.
pub(super) struct Cache<T> {
    entries: RwLock<HashMap<String, Entry<T>>>,
    loading: Mutex<()>,
    /// When a load last failed because Keycloak was unavailable.
    failed: std::sync::Mutex<HashMap<String, Instant>>,
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Self {
            entries: RwLock::new(HashMap::new()),
            loading: Mutex::new(()),
            failed: std::sync::Mutex::new(HashMap::new()),
        }
    }
}

/// After a load failed because Keycloak was unavailable, requests within
/// this time get the same answer at once instead of each waiting for their
/// own timeout in turn behind the single-flight lock.
pub(super) const FAILURE_MEMO: Duration = Duration::from_secs(1);

/// How long "realm not found" is remembered (a new realm shows up quickly).
pub(super) const NEGATIVE_TTL: Duration = Duration::from_secs(2);

impl<T> Cache<T> {
    async fn cached(&self, key: &str, ttl: Duration) -> Option<Result<Arc<T>, String>> {
        let entries = self.entries.read().await;
        let (at, value) = entries.get(key)?;
        let ttl = if value.is_ok() { ttl } else { NEGATIVE_TTL };
        (at.elapsed() < ttl).then(|| value.clone())
    }

    pub(super) async fn get_or_load<F, Fut>(
        &self,
        key: &str,
        ttl: Duration,
        load: F,
    ) -> Result<Arc<T>, DirectoryError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Option<T>, DirectoryError>>,
    {
        if let Some(hit) = self.cached(key, ttl).await {
            return hit.map_err(DirectoryError::NotFound);
        }
        let asked = Instant::now();
        self.check_recent_failure(key, asked)?;
        let _single_flight = self.loading.lock().await;
        if let Some(hit) = self.cached(key, ttl).await {
            return hit.map_err(DirectoryError::NotFound);
        }
        self.check_recent_failure(key, asked)?;
        let loaded = match load().await {
            Ok(Some(v)) => Ok(Arc::new(v)),
            Ok(None) => Err(format!("realm {key} has no SCIM endpoint")),
            Err(e) => {
                if matches!(e, DirectoryError::Unavailable { .. }) {
                    if let Ok(mut failed) = self.failed.lock() {
                        failed.insert(key.to_owned(), Instant::now());
                    }
                }
                return Err(e);
            }
        };
        self.entries
            .write()
            .await
            .insert(key.to_owned(), (Instant::now(), loaded.clone()));
        loaded.map_err(DirectoryError::NotFound)
    }

    /// `Unavailable` when a load failed since `asked`, or very recently.
    fn check_recent_failure(&self, key: &str, asked: Instant) -> Result<(), DirectoryError> {
        let failed_at = self.failed.lock().ok().and_then(|f| f.get(key).copied());
        match failed_at {
            Some(at) if at >= asked || at.elapsed() < FAILURE_MEMO => {
                Err(DirectoryError::Unavailable {
                    detail: "Keycloak is unavailable; retry later".to_owned(),
                    retry_after: 5,
                })
            }
            _ => Ok(()),
        }
    }

    pub(super) async fn forget(&self, key: &str) {
        self.entries.write().await.remove(key);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    fn unavailable() -> DirectoryError {
        DirectoryError::Unavailable {
            detail: "down".to_owned(),
            retry_after: 5,
        }
    }

    /// Loads through `cache`, counting calls of the loader.
    async fn load(
        cache: &Cache<u32>,
        calls: &AtomicUsize,
        ttl: Duration,
        result: fn() -> Result<Option<u32>, DirectoryError>,
    ) -> Result<Arc<u32>, DirectoryError> {
        cache
            .get_or_load("r", ttl, || async {
                calls.fetch_add(1, Ordering::SeqCst);
                result()
            })
            .await
    }

    #[tokio::test]
    async fn a_loaded_value_is_served_from_the_cache_within_the_ttl() {
        let (cache, calls) = (Cache::default(), AtomicUsize::new(0));
        for _ in 0..3 {
            let v = load(&cache, &calls, TTL, || Ok(Some(7))).await;
            assert_eq!(v.ok().as_deref(), Some(&7));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_expired_or_forgotten_entry_is_loaded_again() {
        let (cache, calls) = (Cache::default(), AtomicUsize::new(0));
        let _ = load(&cache, &calls, Duration::ZERO, || Ok(Some(1))).await;
        let _ = load(&cache, &calls, Duration::ZERO, || Ok(Some(1))).await;
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        cache.forget("r").await;
        let _ = load(&cache, &calls, TTL, || Ok(Some(1))).await;
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_realm_without_endpoint_is_remembered_as_not_found() {
        let (cache, calls) = (Cache::default(), AtomicUsize::new(0));
        for _ in 0..2 {
            let v = load(&cache, &calls, TTL, || Ok(None)).await;
            assert!(matches!(v, Err(DirectoryError::NotFound(_))));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn an_unavailable_keycloak_is_answered_at_once_for_a_moment() {
        let (cache, calls) = (Cache::default(), AtomicUsize::new(0));
        let first = load(&cache, &calls, TTL, || Err(unavailable())).await;
        assert!(matches!(first, Err(DirectoryError::Unavailable { .. })));
        let second = load(&cache, &calls, TTL, || Ok(Some(1))).await;
        assert!(matches!(second, Err(DirectoryError::Unavailable { .. })));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn other_load_failures_are_neither_cached_nor_memoized() {
        let (cache, calls) = (Cache::default(), AtomicUsize::new(0));
        let first = load(&cache, &calls, TTL, || {
            Err(DirectoryError::Backend("bad".to_owned()))
        })
        .await;
        assert!(matches!(first, Err(DirectoryError::Backend(_))));
        let second = load(&cache, &calls, TTL, || Ok(Some(2))).await;
        assert_eq!(second.ok().as_deref(), Some(&2));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }
}
