//! Readable text for messages, stats and log lines: durations as `150 ms` or `2.5 s`, and
//! wall-clock times as RFC 3339 UTC (`2026-12-01T21:40:03Z`), never Rust's `Debug` forms.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A duration written for people: `150 ms` under a second, `2.5 s` or `30 s` under ten
/// minutes, `12 min` beyond.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Human(pub(crate) Duration);

impl fmt::Display for Human {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d < Duration::from_secs(1) {
            let ms = d.as_secs_f64() * 1000.0;
            if ms < 1.0 && !d.is_zero() {
                write!(f, "{ms:.1} ms")
            } else {
                write!(f, "{} ms", ms.round() as u64)
            }
        } else if d < Duration::from_secs(600) {
            let tenths = (d.as_secs_f64() * 10.0).round() as u64;
            if tenths.is_multiple_of(10) {
                write!(f, "{} s", tenths / 10)
            } else {
                write!(f, "{}.{} s", tenths / 10, tenths % 10)
            }
        } else {
            write!(f, "{} min", (d.as_secs_f64() / 60.0).round() as u64)
        }
    }
}

/// `time` in UTC as RFC 3339 to the second (`2026-12-01T21:40:03Z`); times before 1970
/// are written as the epoch.
pub(crate) fn utc(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = secs / 86_400;
    let rest = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        let at = |s: u64| UNIX_EPOCH + Duration::from_secs(s);
        assert_eq!(utc(at(0)), "1970-01-01T00:00:00Z");
        assert_eq!(utc(at(951_782_400)), "2000-02-29T00:00:00Z");
        assert_eq!(utc(at(1_700_000_000)), "2023-11-14T22:13:20Z");
        assert_eq!(utc(at(1_796_161_203)), "2026-12-01T21:40:03Z");
        assert_eq!(utc(at(4_107_542_399)), "2100-02-28T23:59:59Z");
        assert_eq!(
            utc(UNIX_EPOCH - Duration::from_secs(5)),
            "1970-01-01T00:00:00Z"
        );
        assert_eq!(
            utc(at(1_700_000_000) + Duration::from_millis(999)),
            "2023-11-14T22:13:20Z"
        );
    }

    #[test]
    fn durations_read_as_numbers_with_units() {
        let ms = Duration::from_millis;
        assert_eq!(Human(Duration::ZERO).to_string(), "0 ms");
        assert_eq!(Human(Duration::from_micros(250)).to_string(), "0.2 ms");
        assert_eq!(Human(ms(100)).to_string(), "100 ms");
        assert_eq!(Human(ms(999)).to_string(), "999 ms");
        assert_eq!(Human(ms(1000)).to_string(), "1 s");
        assert_eq!(Human(ms(2500)).to_string(), "2.5 s");
        assert_eq!(Human(ms(30_000)).to_string(), "30 s");
        assert_eq!(Human(Duration::from_secs(3600)).to_string(), "60 min");
    }
}
