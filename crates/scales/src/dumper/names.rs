//! The names of a directory's dumps: `{prefix}-20261202T051500.123Z.json`, the UTC time of
//! the dump to the millisecond, so that names sort by time; and the UTC times of messages.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The part of a dump's name after the prefix and its `-`: `20261202T051500.123Z.json`.
const STAMP_LEN: usize = "20261202T051500.123Z.json".len();

/// The last millisecond a name can tell (9999-12-31T23:59:59.999Z): four-digit years keep
/// every name the same length, so that sorting names sorts times.
const MAX_MS: u64 = 253_402_300_799_999;

/// Whether `prefix` may start dump names: ASCII letters, digits, `.`, `_` and `-`, not
/// starting with `.` (which would hide the files), at most 100 bytes.
pub(crate) fn valid_prefix(prefix: &str) -> bool {
    !prefix.is_empty()
        && prefix.len() <= 100
        && !prefix.starts_with('.')
        && prefix
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Milliseconds since the epoch, clamped to what a name can tell.
fn millis(time: SystemTime) -> u64 {
    let ms = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    u64::try_from(ms).unwrap_or(u64::MAX).min(MAX_MS)
}

/// Hands out the names of one directory's dumps, each later than the one before.
#[derive(Debug)]
pub(crate) struct Names {
    prefix: String,
    /// The millisecond of the newest name handed out or found in the directory.
    last: Option<u64>,
}

impl Names {
    /// Names starting with `prefix` (checked by [`valid_prefix`]).
    pub(crate) fn new(prefix: &str) -> Self {
        Self {
            prefix: prefix.to_owned(),
            last: None,
        }
    }

    /// Notes a name found in the directory, so that new names sort after it even if the
    /// clock has gone back since it was written.
    pub(crate) fn saw(&mut self, ms: u64) {
        self.last = Some(self.last.map_or(ms, |last| last.max(ms)));
    }

    /// The name of a dump taken at `time`: its millisecond, or one after the newest name so
    /// far when that is not earlier (two dumps in one millisecond, or a clock gone back).
    /// The name is `None` only when every millisecond up to year 9999 is taken.
    pub(crate) fn next(&mut self, time: SystemTime) -> Option<String> {
        let wanted = millis(time);
        let ms = match self.last {
            Some(last) if wanted <= last => last.checked_add(1).filter(|&ms| ms <= MAX_MS)?,
            _ => wanted,
        };
        self.last = Some(ms);
        Some(format!("{}-{}.json", self.prefix, stamp(ms)))
    }

    /// The millisecond in `name` if it is one of these dumps' names (not a temporary file,
    /// not another prefix's).
    pub(crate) fn parse(&self, name: &str) -> Option<u64> {
        let rest = name.strip_prefix(self.prefix.as_str())?.strip_prefix('-')?;
        parse_stamp(rest)
    }

    /// Whether `name` is a temporary file of one of these dumps (`{dump name}.tmp...`, see
    /// `dump::write_dump`).
    pub(crate) fn is_temporary(&self, name: &str) -> bool {
        name.strip_prefix(self.prefix.as_str())
            .and_then(|rest| rest.strip_prefix('-'))
            .and_then(|rest| rest.get(..STAMP_LEN).zip(rest.get(STAMP_LEN..)))
            .is_some_and(|(stamp, tail)| parse_stamp(stamp).is_some() && tail.starts_with(".tmp"))
    }
}

/// `20261202T051500.123Z` for a millisecond since the epoch.
fn stamp(ms: u64) -> String {
    let secs = ms / 1000;
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rest = secs % 86_400;
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}.{:03}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60,
        ms % 1000
    )
}

/// The millisecond of `20261202T051500.123Z.json`, checking every field.
fn parse_stamp(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    if b.len() != STAMP_LEN
        || b[8] != b'T'
        || b[15] != b'.'
        || &b[19..] != b"Z.json"
        || ![0..8, 9..15, 16..19]
            .into_iter()
            .all(|r| b[r].iter().all(u8::is_ascii_digit))
    {
        return None;
    }
    let number = |range: std::ops::Range<usize>| -> u64 {
        b[range].iter().fold(0, |n, d| n * 10 + u64::from(d - b'0'))
    };
    let (year, month, day) = (number(0..4), number(4..6), number(6..8));
    let (hour, minute, second, milli) = (
        number(9..11),
        number(11..13),
        number(13..15),
        number(16..19),
    );
    if year < 1970 || !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + hour * 3600 + minute * 60 + second) * 1000) + milli)
}

fn days_in_month(year: u64, month: u64) -> u64 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// `time` in UTC as RFC 3339 to the second (`2026-12-02T05:15:00Z`), for messages.
pub(crate) fn utc(time: SystemTime) -> String {
    let secs = millis(time) / 1000;
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rest = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// A duration for people: `150 ms` under a second, `2.5 s` under ten minutes, then minutes.
pub(crate) fn human(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d < Duration::from_secs(600) {
        let tenths = d.as_millis() / 100;
        match tenths % 10 {
            0 => format!("{} s", tenths / 10),
            t => format!("{}.{t} s", tenths / 10),
        }
    } else {
        format!("{} min", d.as_secs() / 60)
    }
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

/// Days from 1970-01-01 to a proleptic Gregorian date from 1970 on (the inverse of
/// [`civil_from_days`]).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year / 400;
    let yoe = year % 400;
    let mp = if month > 2 { month - 3 } else { month + 9 };
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at_ms(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    #[test]
    fn names_tell_the_utc_millisecond() {
        let mut names = Names::new("stats");
        // 2026-12-02T05:15:00.123Z
        let ms = 1_796_188_500_123;
        assert_eq!(
            names.next(at_ms(ms)).unwrap(),
            "stats-20261202T051500.123Z.json"
        );
        assert_eq!(names.parse("stats-20261202T051500.123Z.json"), Some(ms));
        assert_eq!(utc(at_ms(ms)), "2026-12-02T05:15:00Z");
        assert_eq!(
            Names::new("x").next(UNIX_EPOCH).unwrap(),
            "x-19700101T000000.000Z.json"
        );
    }

    #[test]
    fn names_round_trip_across_leap_days_and_centuries() {
        let names = Names::new("p");
        for ms in [
            0,
            951_782_400_000,     // 2000-02-29
            4_107_456_000_000,   // 2100-02-28 (2100 is no leap year)
            4_107_542_399_999,   // 2100-02-28T23:59:59.999
            4_107_542_400_000,   // 2100-03-01
            1_709_164_800_555,   // 2024-02-29
            253_402_300_799_999, // the last name
        ] {
            let name = Names::new("p").clone_next(ms);
            assert_eq!(names.parse(&name), Some(ms), "{name}");
        }
        assert_eq!(names.parse("p-21000229T000000.000Z.json"), None);
        assert_eq!(
            names.parse("p-20240229T000000.000Z.json"),
            Some(1_709_164_800_000)
        );
    }

    #[test]
    fn two_dumps_in_one_millisecond_or_a_clock_gone_back_get_later_names() {
        let mut names = Names::new("stats");
        let a = names.next(at_ms(5_000)).unwrap();
        let b = names.next(at_ms(5_000)).unwrap();
        let c = names.next(at_ms(1_000)).unwrap();
        let d = names.next(at_ms(9_000)).unwrap();
        assert_eq!(
            [a.as_str(), &b, &c, &d],
            [
                "stats-19700101T000005.000Z.json",
                "stats-19700101T000005.001Z.json",
                "stats-19700101T000005.002Z.json",
                "stats-19700101T000009.000Z.json",
            ]
        );
        // A name found on disk counts as handed out.
        let mut names = Names::new("stats");
        names.saw(9_000);
        assert_eq!(
            names.next(at_ms(1_000)).unwrap(),
            "stats-19700101T000009.001Z.json"
        );
        // The end of time is an error, not a wrapped name.
        let mut names = Names::new("stats");
        names.saw(MAX_MS);
        assert_eq!(names.next(at_ms(0)), None);
    }

    #[test]
    fn only_exact_names_of_the_prefix_are_its_own() {
        let names = Names::new("stats");
        for other in [
            "stats-20261202T051500.123Z.json.tmp42.0",
            "stats-20261202T051500.123Z.jsonx",
            "stats-20261202T051500.12Z.json",
            "stats-20261302T051500.123Z.json",
            "stats-20261202T245500.123Z.json",
            "stats-2026120xT051500.123Z.json",
            "stats2-20261202T051500.123Z.json",
            "other-20261202T051500.123Z.json",
            "stats.json",
            "stats-",
            "",
        ] {
            assert_eq!(names.parse(other), None, "{other}");
        }
        assert!(names.is_temporary("stats-20261202T051500.123Z.json.tmp42.0"));
        assert!(!names.is_temporary("stats-20261202T051500.123Z.json"));
        assert!(!names.is_temporary("other-20261202T051500.123Z.json.tmp42.0"));
        assert!(!names.is_temporary("notes.tmp"));
    }

    #[test]
    fn prefixes_are_plain_file_name_words() {
        for good in ["stats", "web-1", "a.b_c"] {
            assert!(valid_prefix(good), "{good}");
        }
        for bad in ["", ".hidden", "a/b", "a b", "é", "a\nb", &"x".repeat(101)] {
            assert!(!valid_prefix(bad), "{bad:?}");
        }
    }

    #[test]
    fn durations_read_as_numbers_with_units() {
        assert_eq!(human(Duration::from_millis(150)), "150 ms");
        assert_eq!(human(Duration::from_millis(2500)), "2.5 s");
        assert_eq!(human(Duration::from_secs(30)), "30 s");
        assert_eq!(human(Duration::from_secs(3600)), "60 min");
    }

    impl Names {
        fn clone_next(mut self, ms: u64) -> String {
            self.next(at_ms(ms)).unwrap()
        }
    }
}
