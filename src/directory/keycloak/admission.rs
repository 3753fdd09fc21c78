//! Admission of an operation: the realm's in-flight budget (`Busy` past it),
//! the write stripes that serialize writes to one resource, and the
//! mass-deprovision breaker guard in front of every disable and delete (the
//! window arithmetic is `directory/breaker.rs`).
//!
//! Invariant: every wait here is bounded (`queue_wait`, `write_wait`), so a
//! stalled Keycloak turns into `Busy`, never into an unbounded queue; and a
//! breaker trip is persisted before the refusal is returned.

use std::sync::Arc;
use std::time::Instant;

use tokio::sync::{Mutex, MutexGuard, OwnedSemaphorePermit, Semaphore};

use super::realm_state::RealmState;
use super::{kc_err, KcDirectory};
use crate::directory::breaker::{Decision, Window};
use crate::directory::DirectoryError;
use crate::keycloak::UserQuery;
use crate::mapping::user::now_rfc3339;
use crate::realm::RealmName;
use crate::settings_store;

/// Writes to one resource are serialized through one of these locks (by a
/// hash of realm and id), so a read-modify-write never loses a concurrent one.
/// A group PATCH that only adds and removes named members reads nothing it
/// writes back and takes no lock (`serializes` in `mod.rs`).
pub(super) const WRITE_STRIPES: usize = 64;

/// The stripes, one lock each.
pub(super) fn write_stripes() -> Vec<Mutex<()>> {
    (0..WRITE_STRIPES).map(|_| Mutex::new(())).collect()
}

impl KcDirectory {
    /// Serializes writes to one resource; `Busy` when the wait exceeds
    /// `write_wait` (a stalled Keycloak must not pile writers up unbounded).
    pub(super) async fn write_lock(
        &self,
        realm: &str,
        id: &str,
    ) -> Result<MutexGuard<'_, ()>, DirectoryError> {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        (realm, id).hash(&mut h);
        let index = usize::try_from(h.finish() % WRITE_STRIPES as u64).unwrap_or(0);
        let Some(lock) = self.write_locks.get(index) else {
            return Err(DirectoryError::Backend(
                "write lock stripe out of range".to_owned(),
            ));
        };
        tokio::time::timeout(self.opts.write_wait, lock.lock())
            .await
            .map_err(|_| DirectoryError::Busy { retry_after: 1 })
    }

    /// A slot of the realm's in-flight budget; `Busy` after `queue_wait`.
    /// Called only for realms that resolved, so the map stays bounded.
    pub(super) async fn admit(&self, realm: &str) -> Result<OwnedSemaphorePermit, DirectoryError> {
        let semaphore = {
            let mut map = self
                .in_flight
                .lock()
                .map_err(|_| DirectoryError::Backend("in-flight map poisoned".to_owned()))?;
            Arc::clone(map.entry(realm.to_owned()).or_insert_with(|| {
                Arc::new(Semaphore::new(self.opts.max_in_flight_per_realm.max(1)))
            }))
        };
        if let Ok(Ok(permit)) =
            tokio::time::timeout(self.opts.queue_wait, semaphore.acquire_owned()).await
        {
            return Ok(permit);
        }
        if let Some(m) = crate::telemetry::metrics::metrics() {
            m.backpressure_rejections.with_label_values(&[realm]).inc();
        }
        Err(DirectoryError::Busy { retry_after: 1 })
    }

    /// Up to `want` more slots of the realm's in-flight budget, only those
    /// free right now (never waited for, so an operation that already holds
    /// its slot cannot deadlock waiting for more): an operation that fans out
    /// into independent Keycloak calls runs `1 + spare` of them at once, and
    /// the realm's operations together stay within the budget.
    pub(super) fn spare_slots(&self, realm: &str, want: usize) -> Vec<OwnedSemaphorePermit> {
        let Some(semaphore) = self
            .in_flight
            .lock()
            .ok()
            .and_then(|map| map.get(realm).map(Arc::clone))
        else {
            return Vec::new();
        };
        (0..want)
            .map_while(|_| Arc::clone(&semaphore).try_acquire_owned().ok())
            .collect()
    }

    /// The realm's state and an in-flight slot.
    pub(super) async fn enter(
        &self,
        realm: &RealmName,
    ) -> Result<(Arc<RealmState>, OwnedSemaphorePermit), DirectoryError> {
        let state = self.state(realm).await?;
        let permit = self.admit(realm).await?;
        Ok((state, permit))
    }

    /// Admits one more disable or delete, or trips / reports the breaker.
    /// The admission (`None` when the breaker is off) goes to
    /// [`Self::release_deprovision`] if the write then fails.
    pub(super) async fn guard_deprovision(
        &self,
        realm: &str,
        state: &RealmState,
    ) -> Result<Option<Instant>, DirectoryError> {
        let policy = &self.opts.deprovision;
        if !policy.enabled {
            return Ok(None);
        }
        let metrics = crate::telemetry::metrics::metrics();
        if let Some(since) = &state.view.settings.breaker_tripped_at {
            if let Some(m) = metrics {
                m.breaker_refusals.with_label_values(&[realm]).inc();
            }
            return Err(DirectoryError::BreakerOpen {
                since: since.clone(),
            });
        }
        let now = Instant::now();
        let needs_count = self.with_window(realm, |w| w.needs_user_count(now, policy))?;
        if needs_count {
            let users = self
                .kc
                .count_users(realm, &UserQuery::default())
                .await
                .map_err(kc_err("Users"))?;
            self.with_window(realm, |w| w.set_user_count(now, users))?;
        }
        match self.with_window(realm, |w| w.admit(now, policy))? {
            Decision::Allow => Ok(Some(now)),
            Decision::Trip { events, limit } => {
                let since = now_rfc3339();
                tracing::error!(
                    target: "audit",
                    realm,
                    operation = "deprovision_breaker_trip",
                    events,
                    limit,
                    window_secs = policy.window_secs,
                    "mass-deprovision breaker tripped: disables and deletes refused until reset"
                );
                if let Some(m) = metrics {
                    m.breaker_trips.with_label_values(&[realm]).inc();
                    m.breaker_refusals.with_label_values(&[realm]).inc();
                }
                self.persist_trip(realm, &since).await?;
                Err(DirectoryError::BreakerOpen { since })
            }
        }
    }

    /// Takes back an admission whose disable or delete did not happen, so
    /// that writes Keycloak refused do not count toward a trip.
    pub(super) fn release_deprovision(&self, realm: &str, admitted: Option<Instant>) {
        if let Some(at) = admitted {
            // A poisoned map keeps the event: erring towards a trip.
            let _ = self.with_window(realm, |w| w.release(at));
        }
    }

    pub(super) fn with_window<T>(
        &self,
        realm: &str,
        f: impl FnOnce(&mut Window) -> T,
    ) -> Result<T, DirectoryError> {
        let mut map = self
            .breakers
            .lock()
            .map_err(|_| DirectoryError::Backend("breaker map poisoned".to_owned()))?;
        Ok(f(map.entry(realm.to_owned()).or_default()))
    }

    /// Stores the trip on the realm's `scim-endpoint` client, so every
    /// replica refuses too and an admin's reset clears it everywhere.
    pub(super) async fn persist_trip(
        &self,
        realm: &str,
        since: &str,
    ) -> Result<(), DirectoryError> {
        settings_store::update(&self.kc, realm, |settings| {
            settings.breaker_tripped_at = Some(since.to_owned());
            Ok::<_, DirectoryError>(())
        })
        .await?;
        self.realms.forget(realm).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use crate::config::DeprovisionSettings;
    use crate::directory::keycloak::{KcDirectory, KcDirectoryOptions, RealmRegistry};
    use crate::keycloak::{AdminGrant, KcAdmin, KcAdminOptions};

    fn directory(max_in_flight: usize) -> KcDirectory {
        let kc = || {
            KcAdmin::new(KcAdminOptions {
                base_url: url::Url::parse("http://127.0.0.1:9").expect("url"),
                admin_realm: "master".to_owned(),
                grant: AdminGrant::Password {
                    username: "admin".to_owned(),
                    password: "admin".to_owned().into(),
                },
                timeout: Duration::from_secs(1),
                connect_timeout: Duration::from_secs(1),
            })
            .expect("client")
        };
        KcDirectory::new(
            kc(),
            KcDirectoryOptions {
                public_url: "http://127.0.0.1:9".to_owned(),
                cache_ttl: Duration::from_secs(30),
                max_scan: 100,
                max_in_flight_per_realm: max_in_flight,
                queue_wait: Duration::from_millis(10),
                write_wait: Duration::from_millis(10),
                deprovision: DeprovisionSettings::default(),
                onboarding_lifespan: Duration::from_secs(60),
            },
            Arc::new(RealmRegistry::new(kc(), &[])),
        )
    }

    #[tokio::test]
    async fn a_fan_out_takes_only_the_slots_the_realm_spares_right_now() {
        let dir = directory(4);
        let own = dir.admit("r").await.expect("a slot");
        let spare = dir.spare_slots("r", 7);
        assert_eq!(
            spare.len(),
            3,
            "the budget is 4, one is the operation's own"
        );
        assert!(dir.spare_slots("r", 7).is_empty(), "nothing left to spare");
        assert!(
            dir.admit("r").await.is_err(),
            "the budget holds for others too"
        );
        drop(spare);
        assert_eq!(dir.spare_slots("r", 2).len(), 2, "at most what was asked");
        assert!(
            dir.spare_slots("other", 3).is_empty(),
            "a realm not entered has none"
        );
        drop(own);
    }
}
