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
}
