//! Numbers for people, written by the server so that the first paint (and a page without
//! JavaScript) is already right: thousands separators, durations in the unit that fits
//! (`12.3 ms`, `4m 05s`), bytes in binary units, rates per second.
//!
//! A stat's unit comes from its name, as the original's users name them: `latency`, `time`,
//! `duration` … and `_seconds` are seconds; `_bytes` are bytes. Anything else is a plain
//! number.
//!
//! Depends on no other module of the crate.

/// What a number measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    Plain,
    Seconds,
    Bytes,
}

impl Unit {
    /// The unit of the values of a stat named `name` (its last path segment).
    pub(crate) fn of(name: &str) -> Self {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with("bytes") {
            return Self::Bytes;
        }
        const TIME: [&str; 8] = [
            "latency", "time", "duration", "delay", "elapsed", "wait", "seconds", "secs",
        ];
        // `timeouts` is a count (`start_time_seconds`, a date, shows as one: see `duration`).
        if lower.contains("timeout") && !lower.ends_with("seconds") {
            return Self::Plain;
        }
        if TIME.iter().any(|word| lower.contains(word)) {
            Self::Seconds
        } else {
            Self::Plain
        }
    }

    /// `v` in this unit.
    pub(crate) fn show(self, v: f64) -> String {
        match self {
            Self::Plain => plain(v),
            Self::Seconds => duration(v),
            Self::Bytes => bytes(v),
        }
    }

    /// `v` per second in this unit (`1.2k/s`, `3.4 MiB/s`; seconds per second are a share
    /// of the time, `25 %`: time spent in a state, CPU time).
    pub(crate) fn rate(self, v: f64) -> String {
        match self {
            Self::Bytes => format!("{}/s", bytes(v)),
            Self::Seconds if v.is_finite() => format!("{} %", sig(v * 100.0, 3)),
            _ => rate(v),
        }
    }
}

/// `v` to `digits` significant digits, trailing zeros dropped.
fn sig(v: f64, digits: usize) -> String {
    if v == 0.0 {
        return "0".to_owned();
    }
    let magnitude = v.abs().log10().floor() as i64;
    let decimals = (digits as i64 - 1 - magnitude).max(0) as usize;
    let text = format!("{v:.decimals$}");
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    }
}

/// An integer with `,` between thousands.
pub(crate) fn grouped(v: i128) -> String {
    let digits = v.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if v < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A plain number: integers grouped by thousands, others to 4 significant digits.
pub(crate) fn plain(v: f64) -> String {
    if !v.is_finite() {
        return non_finite(v);
    }
    let a = v.abs();
    if v.fract() == 0.0 && a < 1e18 {
        return grouped(v as i128);
    }
    if (1e4..1e18).contains(&a) {
        return grouped(v.round() as i128);
    }
    if a != 0.0 && a < 1e-3 {
        return format!("{v:.2e}");
    }
    sig(v, 4)
}

fn non_finite(v: f64) -> String {
    if v.is_nan() {
        "NaN".to_owned()
    } else if v > 0.0 {
        "∞".to_owned()
    } else {
        "-∞".to_owned()
    }
}

/// Seconds in the unit that fits: `850 ns`, `12.3 ms`, `4.5 s`, `3m 05s`, `2h 10m`, `3d 4h`.
/// Past 30 years it is a time since the Unix epoch (a `currentTime` gauge), shown as a UTC
/// date: `2026-12-02 05:48:34Z`.
pub(crate) fn duration(s: f64) -> String {
    if !s.is_finite() {
        return non_finite(s);
    }
    let a = s.abs();
    if (946_684_800.0..253_402_300_800.0).contains(&s) {
        return utc(s);
    }
    if a == 0.0 {
        return "0 s".to_owned();
    }
    let sign = if s < 0.0 { "-" } else { "" };
    if a < 1e-6 {
        return format!("{} ns", sig(s * 1e9, 3));
    }
    if a < 1e-3 {
        return format!("{} µs", sig(s * 1e6, 3));
    }
    if a < 1.0 {
        return format!("{} ms", sig(s * 1e3, 3));
    }
    if a < 60.0 {
        return format!("{} s", sig(s, 3));
    }
    let whole = a.round() as u64;
    let text = if whole < 3600 {
        format!("{}m {:02}s", whole / 60, whole % 60)
    } else if whole < 86_400 {
        format!("{}h {:02}m", whole / 3600, whole % 3600 / 60)
    } else {
        format!(
            "{}d {}h",
            grouped(i128::from(whole / 86_400)),
            whole % 86_400 / 3600
        )
    };
    format!("{sign}{text}")
}

/// Seconds since the Unix epoch as `YYYY-MM-DD hh:mm:ssZ` (days to a civil date as in
/// Howard Hinnant's `civil_from_days`).
fn utc(seconds: f64) -> String {
    let secs = seconds.floor() as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}Z",
        rest / 3600,
        rest % 3600 / 60,
        rest % 60
    )
}

/// Bytes in binary units: `512 B`, `1.5 KiB`, `230 MiB`.
pub(crate) fn bytes(v: f64) -> String {
    if !v.is_finite() {
        return non_finite(v);
    }
    const UNITS: [&str; 6] = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let a = v.abs();
    if a < 1024.0 {
        return format!("{} B", plain(v));
    }
    let mut scaled = v / 1024.0;
    let mut unit = 0;
    while scaled.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        scaled /= 1024.0;
        unit += 1;
    }
    format!("{} {}", sig(scaled, 3), UNITS[unit])
}

/// Events per second: `0.5/s`, `12.3k/s`, `4.1M/s`.
pub(crate) fn rate(v: f64) -> String {
    if !v.is_finite() {
        return format!("{}/s", non_finite(v));
    }
    let a = v.abs();
    if a >= 1e6 {
        format!("{}M/s", sig(v / 1e6, 3))
    } else if a >= 1e4 {
        format!("{}k/s", sig(v / 1e3, 3))
    } else if a != 0.0 && a < 0.01 {
        format!("{v:.1e}/s")
    } else {
        format!("{}/s", sig(v, 3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_for_people() {
        assert_eq!(plain(1234567.0), "1,234,567");
        assert_eq!(plain(-1000.0), "-1,000");
        assert_eq!(plain(999.0), "999");
        assert_eq!(plain(0.123456), "0.1235");
        assert_eq!(plain(12345.6), "12,346");
        assert_eq!(plain(f64::NAN), "NaN");
        assert_eq!(duration(0.0123), "12.3 ms");
        assert_eq!(duration(0.000_045), "45 µs");
        assert_eq!(duration(185.0), "3m 05s");
        assert_eq!(duration(90_000.0), "1d 1h");
        assert_eq!(duration(1_796_190_514.0), "2026-12-02 05:48:34Z");
        assert_eq!(duration(951_782_400.0), "2000-02-29 00:00:00Z");
        assert_eq!(bytes(1536.0), "1.5 KiB");
        assert_eq!(bytes(12.0), "12 B");
        assert_eq!(rate(12_345.0), "12.3k/s");
        assert_eq!(rate(0.5), "0.5/s");
        assert_eq!(Unit::Seconds.rate(0.25), "25 %");
        assert_eq!(grouped(-1_234), "-1,234");
    }

    #[test]
    fn units_from_names() {
        assert_eq!(Unit::of("latency"), Unit::Seconds);
        assert_eq!(Unit::of("uptime_seconds"), Unit::Seconds);
        assert_eq!(Unit::of("resident_memory_bytes"), Unit::Bytes);
        assert_eq!(Unit::of("timeouts"), Unit::Plain);
        assert_eq!(Unit::of("start_time_seconds"), Unit::Seconds);
        assert_eq!(Unit::of("timeout_seconds"), Unit::Seconds);
        assert_eq!(Unit::of("hits"), Unit::Plain);
    }
}
