//! Leader election as client-go's leaderelection decides it, over a
//! coordination.k8s.io Lease: who may hold the lease at `now`, and what to
//! write. Pure, so takeover, renewal and expiry are tested with a clock.

use time::{Duration, OffsetDateTime};

/// The lease as the decision needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LeaseView {
    /// Who holds it (`spec.holderIdentity`).
    pub holder: Option<String>,
    /// How long a holder's claim lasts after its last renewal.
    pub duration: Option<Duration>,
    /// The last renewal (`spec.renewTime`).
    pub renewed: Option<OffsetDateTime>,
    /// When the current holder took it (`spec.acquireTime`).
    pub acquired: Option<OffsetDateTime>,
    /// How often it has changed hands (`spec.leaseTransitions`).
    pub transitions: i32,
}

/// What the candidate does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseDecision {
    /// Write this lease (create it, take it over, or renew it), guarded by
    /// the resourceVersion read, so that two candidates cannot both win.
    Claim(LeaseView),
    /// Someone else holds a live lease; try again at this time.
    Wait {
        /// The holder.
        holder: String,
        /// When its claim runs out if it does not renew.
        until: OffsetDateTime,
    },
}

/// Decides for `identity` at `now`. `existing` is `None` when there is no
/// lease yet. A lease is free when it has no holder, or its holder has not
/// renewed within its duration.
pub fn decide(
    existing: Option<&LeaseView>,
    identity: &str,
    lease_duration: Duration,
    now: OffsetDateTime,
) -> LeaseDecision {
    let fresh = |acquired: OffsetDateTime, transitions: i32| LeaseView {
        holder: Some(identity.to_owned()),
        duration: Some(lease_duration),
        renewed: Some(now),
        acquired: Some(acquired),
        transitions,
    };
    let Some(lease) = existing else {
        return LeaseDecision::Claim(fresh(now, 0));
    };
    match lease.holder.as_deref() {
        Some(holder) if holder == identity => {
            LeaseDecision::Claim(fresh(lease.acquired.unwrap_or(now), lease.transitions))
        }
        Some(holder) if !holder.is_empty() => {
            let until = lease.renewed.or(lease.acquired).unwrap_or(now)
                + lease.duration.unwrap_or(lease_duration);
            if now < until {
                LeaseDecision::Wait {
                    holder: holder.to_owned(),
                    until,
                }
            } else {
                LeaseDecision::Claim(fresh(now, lease.transitions + 1))
            }
        }
        // Released (empty holder) or never held.
        _ => LeaseDecision::Claim(fresh(now, lease.transitions + 1)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const DURATION: Duration = Duration::seconds(60);

    fn held_by(holder: &str, renewed: OffsetDateTime) -> LeaseView {
        LeaseView {
            holder: Some(holder.to_owned()),
            duration: Some(DURATION),
            renewed: Some(renewed),
            acquired: Some(renewed - Duration::hours(1)),
            transitions: 3,
        }
    }

    #[test]
    fn no_lease_is_created_by_the_first_candidate() {
        let now = datetime!(2026-11-23 12:00 UTC);
        let LeaseDecision::Claim(lease) = decide(None, "a", DURATION, now) else {
            panic!("should claim");
        };
        assert_eq!(lease.holder.as_deref(), Some("a"));
        assert_eq!(lease.acquired, Some(now));
        assert_eq!(lease.transitions, 0);
    }

    #[test]
    fn a_live_lease_of_another_holder_is_waited_for_until_it_expires() {
        let renewed = datetime!(2026-11-23 12:00 UTC);
        let lease = held_by("a", renewed);
        let before = renewed + Duration::seconds(59);
        assert_eq!(
            decide(Some(&lease), "b", DURATION, before),
            LeaseDecision::Wait {
                holder: "a".to_owned(),
                until: renewed + DURATION
            }
        );
        let after = renewed + Duration::seconds(60);
        let LeaseDecision::Claim(taken) = decide(Some(&lease), "b", DURATION, after) else {
            panic!("an expired lease is taken over");
        };
        assert_eq!(taken.holder.as_deref(), Some("b"));
        assert_eq!(taken.acquired, Some(after));
        assert_eq!(taken.transitions, 4);
    }

    #[test]
    fn the_holder_renews_keeping_its_acquire_time() {
        let renewed = datetime!(2026-11-23 12:00 UTC);
        let lease = held_by("a", renewed);
        let now = renewed + Duration::seconds(15);
        let LeaseDecision::Claim(renewal) = decide(Some(&lease), "a", DURATION, now) else {
            panic!("the holder renews");
        };
        assert_eq!(renewal.renewed, Some(now));
        assert_eq!(renewal.acquired, lease.acquired);
        assert_eq!(renewal.transitions, 3);
    }

    #[test]
    fn a_released_lease_is_free() {
        let mut lease = held_by("a", datetime!(2026-11-23 12:00 UTC));
        lease.holder = Some(String::new());
        let now = datetime!(2026-11-23 12:00:01 UTC);
        assert!(matches!(
            decide(Some(&lease), "b", DURATION, now),
            LeaseDecision::Claim(_)
        ));
    }
}
