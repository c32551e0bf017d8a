//! X.509 times (RFC 5280 4.1.2.5) to and from Unix seconds.

use super::X509Error;
use super::der::{GENERALIZED_TIME, UTC_TIME, Writer};
use crate::calendar::{civil_from_days, days_from_civil};

/// Writes `unix` as UTCTime through 2049 and GeneralizedTime from 2050, as
/// RFC 5280 requires.
pub(crate) fn write(w: &mut Writer, unix: i64) -> Result<(), X509Error> {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    let (year, month, day) = civil_from_days(days);
    if !(1950..=9999).contains(&year) {
        return Err(X509Error::Time(format!(
            "{unix} is outside the years X.509 can encode"
        )));
    }
    let mut digits = [0u8; 15];
    let mut len = 0;
    let mut push = |value: i64, width: u32| {
        for i in (0..width).rev() {
            digits[len] = b'0' + ((value / 10i64.pow(i)) % 10) as u8;
            len += 1;
        }
    };
    let tag = if year < 2050 {
        push(year % 100, 2);
        UTC_TIME
    } else {
        push(year, 4);
        GENERALIZED_TIME
    };
    push(month, 2);
    push(day, 2);
    push(secs / 3600, 2);
    push(secs / 60 % 60, 2);
    push(secs % 60, 2);
    digits[len] = b'Z';
    w.element(tag, &digits[..=len]);
    Ok(())
}

/// Reads a UTCTime or GeneralizedTime (`Z` form, with seconds).
pub(crate) fn read(tag: u8, value: &[u8]) -> Result<i64, X509Error> {
    let bad = || {
        X509Error::Time(format!(
            "unsupported time {:?}",
            String::from_utf8_lossy(value)
        ))
    };
    let (year_digits, expected_len) = match tag {
        UTC_TIME => (2, 13),
        GENERALIZED_TIME => (4, 15),
        _ => return Err(bad()),
    };
    if value.len() != expected_len || value[expected_len - 1] != b'Z' {
        return Err(bad());
    }
    let mut fields = [0i64; 6];
    let mut at = 0;
    for (i, field) in fields.iter_mut().enumerate() {
        let width = if i == 0 { year_digits } else { 2 };
        for &digit in &value[at..at + width] {
            if !digit.is_ascii_digit() {
                return Err(bad());
            }
            *field = *field * 10 + i64::from(digit - b'0');
        }
        at += width;
    }
    let [mut year, month, day, hour, minute, second] = fields;
    if tag == UTC_TIME {
        year += if year < 50 { 2000 } else { 1900 };
    }
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(bad());
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::x509::der::Reader;

    fn round_trip(unix: i64) -> (u8, String) {
        let mut w = Writer::default();
        write(&mut w, unix).unwrap();
        let element = Reader::new(&w.buf).read().unwrap();
        assert_eq!(read(element.tag, element.value).unwrap(), unix);
        (
            element.tag,
            String::from_utf8(element.value.to_vec()).unwrap(),
        )
    }

    #[test]
    fn known_instants_encode_as_rfc_5280_says() {
        assert_eq!(round_trip(0), (UTC_TIME, "700101000000Z".into()));
        assert_eq!(round_trip(951_782_400), (UTC_TIME, "000229000000Z".into())); // leap day 2000
        assert_eq!(
            round_trip(1_790_000_000),
            (UTC_TIME, "260921141320Z".into())
        );
        assert_eq!(
            round_trip(2_524_607_999),
            (UTC_TIME, "491231235959Z".into())
        );
        assert_eq!(
            round_trip(2_524_608_000),
            (GENERALIZED_TIME, "20500101000000Z".into())
        );
        assert_eq!(
            round_trip(253_402_300_799),
            (GENERALIZED_TIME, "99991231235959Z".into())
        );
        assert_eq!(round_trip(-631_152_000), (UTC_TIME, "500101000000Z".into()));
        assert!(write(&mut Writer::default(), 253_402_300_800).is_err());
    }

    #[test]
    fn every_day_for_a_century_round_trips() {
        for day in 0..36_600 {
            round_trip(day * 86_400 + 86_399);
        }
    }

    #[test]
    fn malformed_times_are_refused() {
        for (tag, text) in [
            (UTC_TIME, "7001010000Z"),
            (UTC_TIME, "700101000000+0100"),
            (UTC_TIME, "701301000000Z"),
            (GENERALIZED_TIME, "700101000000Z"),
            (0x04, "700101000000Z"),
        ] {
            assert!(read(tag, text.as_bytes()).is_err(), "{text}");
        }
    }
}
