//! When to look at an order again while the ACME server works on it
//! (validating challenges, issuing the certificate): pure, so that the
//! schedule is tested without a server or a clock.
//!
//! A fixed poll wastes time against a fast server (Pebble, or Let's
//! Encrypt on a good day, finishes in well under a second) and a short
//! fixed poll is rude to a slow one. So the first look comes soon and the
//! gaps double while nothing changes, up to a cap; and a server's
//! Retry-After is a floor we never undercut (RFC 8555 7.4: clients should
//! wait at least that long). The plugin is stateless between calls, so
//! the attempt count travels in the order state ([`crate::order::State`]).

use crate::client;

/// The first poll after asking the server to act, in milliseconds. A
/// server that validates or issues at once (Pebble, a local CA, a busy
/// public CA's fast path) is seen done after one short wait; one that is
/// slow costs a few cheap extra requests in the first second, which the
/// doubling soon spaces out.
pub const FIRST_POLL_MS: u64 = 25;
/// The longest gap the backoff grows to (the server may ask for longer).
pub const MAX_POLL_MS: u64 = 4_000;

/// Milliseconds to wait before the poll after `attempt` earlier polls that
/// found no progress: `FIRST_POLL_MS × 2^attempt`, capped at
/// [`MAX_POLL_MS`], and never less than the server's `Retry-After` (the
/// header's value, delta-seconds or an HTTP-date read against `now_unix`).
pub fn delay_ms(attempt: u32, retry_after: Option<&str>, now_unix: i64) -> u64 {
    let backoff = FIRST_POLL_MS
        .checked_shl(attempt.min(32))
        .unwrap_or(MAX_POLL_MS)
        .min(MAX_POLL_MS);
    let server = retry_after
        .and_then(|value| client::parse_retry_after(value, now_unix))
        .map_or(0, |seconds| seconds.saturating_mul(1000));
    backoff.max(server)
}

/// The attempt number for the next poll: one more than last time when the
/// order is where the last poll left it (`progress` equals `last`), else
/// zero — progress means the server is moving, so look again soon.
pub fn next_attempt(last_attempt: u32, last: &str, progress: &str) -> u32 {
    if last == progress {
        last_attempt.saturating_add(1)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_starts_short_doubles_and_is_capped() {
        let delays: Vec<u64> = (0..8).map(|attempt| delay_ms(attempt, None, 0)).collect();
        assert_eq!(delays, [25, 50, 100, 200, 400, 800, 1600, 3200]);
        assert_eq!(delay_ms(8, None, 0), MAX_POLL_MS);
        // No overflow however long it has been waiting.
        assert_eq!(delay_ms(31, None, 0), MAX_POLL_MS);
        assert_eq!(delay_ms(u32::MAX, None, 0), MAX_POLL_MS);
    }

    #[test]
    fn retry_after_is_a_floor_never_undercut() {
        // Seconds: longer than the backoff wins, also beyond the cap.
        assert_eq!(delay_ms(0, Some("3"), 0), 3_000);
        assert_eq!(delay_ms(0, Some("120"), 0), 120_000);
        // Shorter than the backoff: the backoff (the rate stays capped).
        assert_eq!(delay_ms(8, Some("1"), 0), 4_000);
        assert_eq!(delay_ms(1, Some("0"), 0), 50);
        // An HTTP-date, read against now: 1994-11-06T08:49:37Z is 784111777.
        let date = "Sun, 06 Nov 1994 08:49:37 GMT";
        assert_eq!(delay_ms(0, Some(date), 784_111_770), 7_000);
        // A date already past, or garbage: the backoff alone.
        assert_eq!(delay_ms(0, Some(date), 784_111_800), 25);
        assert_eq!(delay_ms(2, Some("soon"), 0), 100);
    }

    #[test]
    fn progress_resets_the_attempts() {
        assert_eq!(next_attempt(0, "", "pending:p"), 0);
        assert_eq!(next_attempt(0, "pending:p", "pending:p"), 1);
        assert_eq!(next_attempt(5, "pending:p", "pending:p"), 6);
        assert_eq!(next_attempt(5, "pending:p", "processing:v"), 0);
        assert_eq!(next_attempt(u32::MAX, "x", "x"), u32::MAX);
    }
}
