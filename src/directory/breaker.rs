//! The mass-deprovision circuit breaker's sliding window: disables and
//! deletes of one realm within a window, against a limit of
//! `max(min_events, ⌈max_share × users⌉)`. Crossing the limit trips the
//! breaker; the trip itself is stored in Keycloak (so every replica sees it,
//! and `kc-scim breaker reset` ends it), this window only decides when.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::config::DeprovisionSettings;

/// How long a realm's user count is reused for the limit.
const USER_COUNT_TTL: Duration = Duration::from_secs(60);

/// What the window says about one more disable or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// Within the limit; the event is recorded.
    Allow,
    /// Over the limit: the breaker trips.
    Trip {
        /// Events in the window, this one included.
        events: usize,
        /// The limit that was crossed.
        limit: usize,
    },
}

/// One realm's recent disables and deletes.
#[derive(Debug, Default)]
pub(super) struct Window {
    events: VecDeque<Instant>,
    users: Option<(Instant, usize)>,
}

impl Window {
    fn prune(&mut self, now: Instant, window: Duration) {
        while self
            .events
            .front()
            .is_some_and(|t| now.duration_since(*t) >= window)
        {
            self.events.pop_front();
        }
    }

    /// Whether deciding needs the realm's user count (only once the window
    /// holds more than `min_events`, and when the cached count is stale).
    pub(super) fn needs_user_count(&mut self, now: Instant, policy: &DeprovisionSettings) -> bool {
        self.prune(now, Duration::from_secs(policy.window_secs));
        self.events.len() + 1 > policy.min_events
            && self
                .users
                .is_none_or(|(at, _)| now.duration_since(at) >= USER_COUNT_TTL)
    }

    /// Remembers the realm's user count.
    pub(super) fn set_user_count(&mut self, now: Instant, users: usize) {
        self.users = Some((now, users));
    }

    /// Decides on one more event at `now`.
    pub(super) fn admit(&mut self, now: Instant, policy: &DeprovisionSettings) -> Decision {
        self.prune(now, Duration::from_secs(policy.window_secs));
        let users = self.users.map_or(0, |(_, n)| n);
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )] // a share of a user count, rounded up; both far below 2^52
        let by_share = (policy.max_share.max(0.0) * users as f64).ceil() as usize;
        let limit = policy.min_events.max(by_share);
        let events = self.events.len() + 1;
        if events > limit {
            self.events.clear();
            return Decision::Trip { events, limit };
        }
        self.events.push_back(now);
        Decision::Allow
    }

    /// Takes back the event admitted at `at`: its write did not happen.
    pub(super) fn release(&mut self, at: Instant) {
        if let Some(i) = self.events.iter().rposition(|t| *t == at) {
            self.events.remove(i);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(min_events: usize, max_share: f64) -> DeprovisionSettings {
        DeprovisionSettings {
            enabled: true,
            window_secs: 60,
            max_share,
            min_events,
        }
    }

    #[test]
    fn a_released_event_makes_room_for_another() {
        let p = policy(2, 0.0);
        let mut w = Window::default();
        let t0 = Instant::now();
        let t1 = t0 + Duration::from_millis(1);
        assert_eq!(w.admit(t0, &p), Decision::Allow);
        assert_eq!(w.admit(t1, &p), Decision::Allow);
        w.release(t1);
        w.release(t1); // a second release of the same event takes nothing
        assert_eq!(w.admit(t1, &p), Decision::Allow);
        assert!(matches!(w.admit(t1, &p), Decision::Trip { events: 3, .. }));
    }

    #[test]
    fn small_realms_get_min_events_before_a_trip() {
        let p = policy(3, 0.1);
        let mut w = Window::default();
        let now = Instant::now();
        w.set_user_count(now, 10);
        for _ in 0..3 {
            assert_eq!(w.admit(now, &p), Decision::Allow);
        }
        assert_eq!(
            w.admit(now, &p),
            Decision::Trip {
                events: 4,
                limit: 3
            }
        );
    }

    #[test]
    fn large_realms_get_their_share() {
        let p = policy(3, 0.1);
        let mut w = Window::default();
        let now = Instant::now();
        w.set_user_count(now, 1_000);
        for _ in 0..100 {
            assert_eq!(w.admit(now, &p), Decision::Allow);
        }
        assert_eq!(
            w.admit(now, &p),
            Decision::Trip {
                events: 101,
                limit: 100
            }
        );
    }

    #[test]
    fn events_leave_the_window() {
        let p = policy(2, 0.0);
        let mut w = Window::default();
        let start = Instant::now();
        assert_eq!(w.admit(start, &p), Decision::Allow);
        assert_eq!(w.admit(start, &p), Decision::Allow);
        let later = start + Duration::from_secs(61);
        assert_eq!(w.admit(later, &p), Decision::Allow);
    }

    #[test]
    fn the_user_count_is_needed_only_past_min_events() {
        let p = policy(2, 0.5);
        let mut w = Window::default();
        let now = Instant::now();
        assert!(!w.needs_user_count(now, &p));
        w.admit(now, &p);
        assert!(!w.needs_user_count(now, &p));
        w.admit(now, &p);
        assert!(w.needs_user_count(now, &p));
        w.set_user_count(now, 10);
        assert!(!w.needs_user_count(now, &p));
    }
}
