//! Renewal time and failure backoff, as cert-manager computes them
//! (`pkg/util/pki/renewaltime.go`, the issuing controller's backoff).

use std::time::Duration;

use time::OffsetDateTime;

/// When a certificate valid from `not_before` to `not_after` is renewed:
/// `not_after − renewBefore` when 0 < renewBefore < lifetime, else
/// `lifetime × pct / 100` before the end when 0 < pct < 100, else at two
/// thirds of the lifetime; truncated to the second.
pub fn renewal_time(
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    renew_before: Option<Duration>,
    renew_before_percentage: Option<i32>,
) -> OffsetDateTime {
    let lifetime = not_after - not_before;
    let lifetime_std = Duration::try_from(lifetime).unwrap_or(Duration::ZERO);
    let before = match (renew_before, renew_before_percentage) {
        (Some(rb), _) if !rb.is_zero() && rb < lifetime_std => rb,
        (_, Some(pct)) if pct > 0 && pct < 100 => lifetime_std.mul_f64(f64::from(pct) / 100.0),
        _ => lifetime_std / 3,
    };
    let renew_at = not_after - before;
    renew_at.replace_nanosecond(0).unwrap_or(renew_at)
}

/// How long to wait after the `attempts`-th consecutive failed issuance:
/// 1h × 2^(attempts−1), capped at 32h.
pub fn failure_backoff(attempts: i32) -> Duration {
    let exponent = attempts.saturating_sub(1).clamp(0, 5) as u32;
    Duration::from_secs(3600 * 2u64.pow(exponent)).min(Duration::from_secs(32 * 3600))
}

/// When issuance may be tried again after failures, or `None` when it may
/// be tried now.
pub fn retry_after(
    attempts: Option<i32>,
    last_failure: Option<OffsetDateTime>,
    now: OffsetDateTime,
) -> Option<OffsetDateTime> {
    let attempts = attempts.filter(|a| *a > 0)?;
    let last = last_failure?;
    let next = last + failure_backoff(attempts);
    (next > now).then_some(next)
}

/// What the controller waits for when there is no due time at all (no
/// readable certificate to take a renewal time from): it looks again in
/// an hour, and any change to the Certificate or its Secret wakes it
/// sooner.
pub const RECHECK_WITHOUT_DUE_TIME: Duration = Duration::from_secs(3600);

/// How long until a Certificate is looked at again, given when it is next
/// due (its renewal time, or the end of its failure backoff). The delay
/// goes to kube-runtime's scheduler as `Action::requeue`, which keeps one
/// wake-up per object at its earliest due time, so nothing is polled. A
/// due time already past waits a second rather than spinning.
pub fn wake_after(due: Option<OffsetDateTime>, now: OffsetDateTime) -> Duration {
    let Some(due) = due else {
        return RECHECK_WITHOUT_DUE_TIME;
    };
    Duration::try_from(due - now)
        .unwrap_or(Duration::ZERO)
        .max(Duration::from_secs(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NB: OffsetDateTime = datetime!(2026-01-01 00:00 UTC);
    const NA: OffsetDateTime = datetime!(2026-04-01 00:00 UTC); // 90 days

    #[test]
    fn two_thirds_of_the_lifetime_by_default() {
        assert_eq!(
            renewal_time(NB, NA, None, None),
            datetime!(2026-03-02 00:00 UTC)
        );
    }

    #[test]
    fn renew_before_wins_when_shorter_than_the_lifetime() {
        let rb = Duration::from_secs(15 * 24 * 3600);
        assert_eq!(
            renewal_time(NB, NA, Some(rb), Some(50)),
            datetime!(2026-03-17 00:00 UTC)
        );
        let too_long = Duration::from_secs(100 * 24 * 3600);
        assert_eq!(
            renewal_time(NB, NA, Some(too_long), None),
            datetime!(2026-03-02 00:00 UTC)
        );
    }

    #[test]
    fn percentage_applies_when_renew_before_is_unset() {
        assert_eq!(
            renewal_time(NB, NA, None, Some(10)),
            datetime!(2026-03-23 00:00 UTC)
        );
        assert_eq!(
            renewal_time(NB, NA, None, Some(100)),
            datetime!(2026-03-02 00:00 UTC)
        );
    }

    #[test]
    fn backoff_doubles_from_one_hour_to_a_32_hour_cap() {
        let hours = |n| failure_backoff(n).as_secs() / 3600;
        assert_eq!(
            [hours(1), hours(2), hours(3), hours(6), hours(7), hours(40)],
            [1, 2, 4, 32, 32, 32]
        );
        let now = datetime!(2026-01-01 00:30 UTC);
        assert_eq!(
            retry_after(Some(1), Some(datetime!(2026-01-01 00:00 UTC)), now),
            Some(datetime!(2026-01-01 01:00 UTC))
        );
        assert_eq!(
            retry_after(Some(1), Some(datetime!(2025-12-31 23:00 UTC)), now),
            None
        );
        assert_eq!(retry_after(None, None, now), None);
    }

    #[test]
    fn wakes_at_the_due_time_at_least_a_second_away() {
        let now = datetime!(2026-03-01 00:00 UTC);
        assert_eq!(
            wake_after(Some(now + time::Duration::hours(5)), now),
            Duration::from_secs(5 * 3600)
        );
        assert_eq!(wake_after(Some(now), now), Duration::from_secs(1));
        assert_eq!(
            wake_after(Some(now - time::Duration::days(1)), now),
            Duration::from_secs(1)
        );
        assert_eq!(wake_after(None, now), RECHECK_WITHOUT_DUE_TIME);
    }

    /// The requeues go through kube-runtime's scheduler, the DelayQueue
    /// that `Action::requeue` feeds. With tokio's clock paused (and
    /// advanced only to the next timer), each Certificate wakes exactly at
    /// the time this module computed for it, in due order, never before;
    /// a second, earlier due time for the same Certificate replaces the
    /// later one instead of waking it twice.
    #[tokio::test(start_paused = true)]
    async fn the_scheduler_wakes_each_certificate_at_its_due_time_and_only_then() {
        use futures_util::StreamExt;
        use kube::runtime::scheduler::{ScheduleRequest, scheduler};
        use tokio::time::Instant;

        let now = datetime!(2026-03-01 00:00 UTC);
        let hour = time::Duration::hours(1);
        // Issued 2026-01-01, valid 90 days: renews 2026-03-02 (in a day).
        let renewal = renewal_time(NB, NA, None, None);
        // Failed three times, last 30 minutes ago: retries in 3h30.
        let retry = retry_after(Some(3), Some(now - hour / 2), now);
        // Renewal time already past (the controller was down): at once.
        let overdue = renewal_time(NB, now - hour, None, None);
        let start = Instant::now();
        let request = |name: &'static str, due: Option<OffsetDateTime>| ScheduleRequest {
            message: name,
            run_at: start + wake_after(due, now),
        };
        let requests = vec![
            request("renewing", Some(renewal)),
            request("failed", retry),
            request("no-certificate", None),
            request("overdue", Some(overdue)),
            // The same Certificate changed: due in 2h instead of a day.
            request("changed", Some(renewal)),
            request("changed", Some(now + 2 * hour)),
        ];
        let mut woken = std::pin::pin!(scheduler(
            futures_util::stream::iter(requests).chain(futures_util::stream::pending())
        ));
        let mut order = Vec::new();
        for _ in 0..5 {
            let name = woken.next().await.unwrap();
            order.push((name, (Instant::now() - start).as_secs()));
        }
        assert_eq!(
            order,
            [
                ("overdue", 1),
                ("no-certificate", 3600),
                ("changed", 2 * 3600),
                ("failed", 3 * 3600 + 1800),
                ("renewing", 24 * 3600),
            ]
        );
        // Nothing else is due, ever: "changed" does not wake a second time.
        let later = tokio::time::timeout(Duration::from_secs(90 * 24 * 3600), woken.next()).await;
        assert!(later.is_err(), "unexpected wake-up: {later:?}");
    }
}
