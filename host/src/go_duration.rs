//! Go duration strings (`2160h`, `1h30m`, `90s`), the format of
//! cert-manager's `duration` and `renewBefore` fields (`metav1.Duration`).
//!
//! Written by hand because the format is Go's `time.ParseDuration` exactly:
//! the general-purpose crates accept other spellings (spaces, `days`) that
//! cert-manager's API would reject, and format differently from Go.

use std::time::Duration;

/// Why a duration string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error("invalid duration {0:?}: expected a Go duration such as \"2160h\" or \"1h30m\"")]
    Invalid(String),
    #[error("invalid duration {0:?}: negative durations are not allowed")]
    Negative(String),
    #[error("invalid duration {0:?}: unknown unit {1:?} (use ns, us, ms, s, m or h)")]
    UnknownUnit(String, String),
}

/// Parses a Go duration. Fractions are allowed (`1.5h`); negative ones are
/// not, since no cert-manager duration can be negative.
pub fn parse(text: &str) -> Result<Duration, DurationError> {
    let invalid = || DurationError::Invalid(text.to_owned());
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest.starts_with('-') {
        return Err(DurationError::Negative(text.to_owned()));
    }
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    // Integer arithmetic, as Go's: a float sum loses nanoseconds past
    // 2^53 ns (about 104 days), so a formatted duration did not always
    // parse back to itself.
    let mut total_nanos: u128 = 0;
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, after) = rest.split_at(number_end);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(invalid());
        }
        let unit_end = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, next) = after.split_at(unit_end);
        let scale: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(invalid()),
            other => {
                return Err(DurationError::UnknownUnit(
                    text.to_owned(),
                    other.to_owned(),
                ));
            }
        };
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            // Too many digits for u128 is far past the limit below.
            whole.parse().map_err(|_| invalid())?
        };
        // Digits past the 20th are below a nanosecond even for hours, and
        // are dropped as Go drops them.
        let (mut numerator, mut denominator) = (0u128, 1u128);
        for digit in fraction.bytes().take(20) {
            numerator = numerator * 10 + u128::from(digit - b'0');
            denominator *= 10;
        }
        total_nanos = whole
            .checked_mul(scale)
            .and_then(|n| n.checked_add(numerator * scale / denominator))
            .and_then(|n| n.checked_add(total_nanos))
            .ok_or_else(invalid)?;
        rest = next;
    }
    let nanos = u64::try_from(total_nanos).map_err(|_| invalid())?;
    Ok(Duration::from_nanos(nanos))
}

/// Formats a duration as Go's `Duration.String` does (`2160h0m0s`), which is
/// how cert-manager writes defaulted durations back.
pub fn format(duration: Duration) -> String {
    let total = duration.as_secs();
    let nanos = duration.subsec_nanos();
    if total == 0 && nanos == 0 {
        return "0s".to_owned();
    }
    if total == 0 {
        return if nanos.is_multiple_of(1_000_000) {
            format!("{}ms", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            format!("{}µs", nanos / 1_000)
        } else {
            format!("{nanos}ns")
        };
    }
    let (hours, minutes, seconds) = (total / 3600, (total / 60) % 60, total % 60);
    let seconds = if nanos == 0 {
        format!("{seconds}s")
    } else {
        let fraction = format!("{nanos:09}");
        format!("{seconds}.{}s", fraction.trim_end_matches('0'))
    };
    if hours > 0 {
        format!("{hours}h{minutes}m{seconds}")
    } else if minutes > 0 {
        format!("{minutes}m{seconds}")
    } else {
        seconds
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse("2160h").unwrap(), Duration::from_secs(2160 * 3600));
        assert_eq!(parse("1h30m").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("1.5h").unwrap(), Duration::from_secs(5400));
        assert_eq!(parse("300ms").unwrap(), Duration::from_millis(300));
        assert_eq!(parse("0").unwrap(), Duration::ZERO);
        assert_eq!(
            parse("2h45m10s").unwrap(),
            Duration::from_secs(2 * 3600 + 45 * 60 + 10)
        );
    }

    #[test]
    fn refuses_what_go_refuses() {
        assert!(matches!(parse(""), Err(DurationError::Invalid(_))));
        assert!(matches!(parse("10"), Err(DurationError::Invalid(_))));
        assert!(matches!(parse("h"), Err(DurationError::Invalid(_))));
        assert!(matches!(parse("90d"), Err(DurationError::UnknownUnit(_, u)) if u == "d"));
        assert!(matches!(parse("-1h"), Err(DurationError::Negative(_))));
        assert!(matches!(
            parse("1 h"),
            Err(DurationError::UnknownUnit(_, _))
        ));
    }

    #[test]
    fn formats_like_go() {
        assert_eq!(format(Duration::from_secs(2160 * 3600)), "2160h0m0s");
        assert_eq!(format(Duration::from_secs(90)), "1m30s");
        assert_eq!(format(Duration::from_secs(5)), "5s");
        assert_eq!(format(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format(Duration::ZERO), "0s");
        assert_eq!(
            parse(&format(Duration::from_secs(123_456))).unwrap(),
            Duration::from_secs(123_456)
        );
    }
}
