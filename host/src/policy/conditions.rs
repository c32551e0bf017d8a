//! Setting a condition as Kubernetes controllers do: `lastTransitionTime`
//! moves only when the status changes, so `kubectl describe` shows how long
//! a state has held.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::api::{Condition, ConditionStatus};

/// The transition time the new condition should carry: the old one's when
/// the status did not change, else `now`.
pub fn transition_time(
    existing: &[Condition],
    type_: &str,
    status: ConditionStatus,
    now: &Time,
) -> Time {
    existing
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .and_then(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.clone())
}

/// Replaces (or adds) the condition of `new`'s type in `conditions`.
pub fn upsert(conditions: &mut Vec<Condition>, new: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == new.type_) {
        Some(slot) => *slot = new,
        None => conditions.push(new),
    }
}

/// A Kubernetes timestamp from a `time` one (to the second, as the API
/// stores them).
pub fn to_time(at: time::OffsetDateTime) -> Time {
    Time(
        k8s_openapi::jiff::Timestamp::from_second(at.unix_timestamp())
            .unwrap_or(k8s_openapi::jiff::Timestamp::UNIX_EPOCH),
    )
}

/// A `time` timestamp from a Kubernetes one.
pub fn from_time(at: &Time) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp(at.0.as_second())
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

/// Removes the condition of `type_`.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) {
    conditions.retain(|c| c.type_ != type_);
}

/// The condition of `type_`, if set.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(status: ConditionStatus, at: &str) -> Condition {
        Condition {
            type_: "Ready".to_owned(),
            status,
            last_transition_time: Some(Time(at.parse().expect("timestamp"))),
            reason: None,
            message: None,
            observed_generation: None,
        }
    }

    #[test]
    fn transition_time_moves_only_on_a_status_change() {
        let existing = vec![ready(ConditionStatus::False, "2026-01-01T00:00:00Z")];
        let now = Time("2026-01-02T00:00:00Z".parse().expect("timestamp"));
        let same = transition_time(&existing, "Ready", ConditionStatus::False, &now);
        assert_eq!(
            same,
            Time("2026-01-01T00:00:00Z".parse().expect("timestamp"))
        );
        let changed = transition_time(&existing, "Ready", ConditionStatus::True, &now);
        assert_eq!(changed, now);
        let mut list = existing;
        upsert(
            &mut list,
            ready(ConditionStatus::True, "2026-01-02T00:00:00Z"),
        );
        assert_eq!(list.len(), 1);
        remove(&mut list, "Ready");
        assert!(list.is_empty());
    }
}
