//! Number spelling shared by every format: JSON's, Python's `str(float)` (the HTML page,
//! Prometheus quantile labels, queries) and Prometheus sample values.

use std::fmt::Write as _;
#[cfg(feature = "json")]
use std::io;

#[cfg(feature = "json")]
use serde_json::ser::{CompactFormatter, Formatter as _};

#[cfg(feature = "json")]
/// Writes an integer as JSON (and every other format) spells it.
pub(crate) fn write_int(w: &mut (impl io::Write + ?Sized), i: i64) -> io::Result<()> {
    CompactFormatter.write_i64(w, i)
}

#[cfg(feature = "json")]
/// Writes a float as JSON: the shortest text that reads back as the same float (serde_json's
/// spelling); NaN and infinities, which JSON cannot carry, as `null`.
pub(crate) fn write_json_float(w: &mut (impl io::Write + ?Sized), f: f64) -> io::Result<()> {
    if f.is_finite() {
        CompactFormatter.write_f64(w, f)
    } else {
        w.write_all(b"null")
    }
}

/// Appends an integer (the same text as `write_int`'s, without going through `core::fmt`).
#[cfg(any(feature = "prometheus", feature = "graphite"))]
pub(crate) fn push_int(out: &mut String, i: i64) {
    out.push_str(itoa::Buffer::new().format(i));
}

/// A float as Python 3's `str(float)`: the shortest text that reads back as the same float,
/// with `.0` on integral values, and exponent notation below 1e-4 and from 1e16 on
/// (`0.0`, `2.5`, `1e-05`, `1e+16`, `nan`, `inf`).
pub(crate) fn python_float(f: f64) -> String {
    let mut out = String::new();
    push_python_float(&mut out, f);
    out
}

/// Appends `f` as [`python_float`] spells it.
pub(crate) fn push_python_float(out: &mut String, f: f64) {
    if f.is_nan() {
        return out.push_str("nan");
    }
    if f.is_infinite() {
        return out.push_str(if f > 0.0 { "inf" } else { "-inf" });
    }
    if f == 0.0 {
        return out.push_str(if f.is_sign_negative() { "-0.0" } else { "0.0" });
    }
    let exponent = f.abs().log10().floor() as i32;
    // `log10` may be off by one next to a power of ten; `{:e}` decides exactly.
    let near_edge = matches!(exponent, -6..=-3 | 14..=17);
    let exponent = if near_edge {
        let scientific = format!("{f:e}");
        let (_, e) = scientific
            .split_once('e')
            .expect("`{:e}` of a finite float has an exponent");
        e.parse().expect("the exponent is an integer")
    } else {
        exponent
    };
    if (-4..16).contains(&exponent) {
        let start = out.len();
        write!(out, "{f}").expect("writing to a String cannot fail");
        if !out[start..].contains('.') {
            out.push_str(".0");
        }
    } else {
        let start = out.len();
        write!(out, "{f:e}").expect("writing to a String cannot fail");
        let e = out[start..].find('e').expect("`{:e}` has an exponent") + start;
        let digits = out[e + 1..].trim_start_matches('-').to_owned();
        let sign = if exponent < 0 { '-' } else { '+' };
        out.truncate(e + 1);
        out.push(sign);
        if digits.len() < 2 {
            out.push('0');
        }
        out.push_str(&digits);
    }
}

#[cfg(feature = "prometheus")]
/// A Prometheus sample value: Python-style shortest float text, or `NaN`, `+Inf`, `-Inf`.
pub(crate) fn push_prometheus_float(out: &mut String, f: f64) {
    if f.is_nan() {
        out.push_str("NaN");
    } else if f.is_infinite() {
        out.push_str(if f > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        push_python_float(out, f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "json")]
    fn json(f: f64) -> String {
        let mut out = Vec::new();
        write_json_float(&mut out, f).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[cfg(feature = "json")]
    #[test]
    fn json_floats_round_trip_and_non_finite_is_null() {
        for f in [
            0.0,
            1.5,
            1e-7,
            123456.789,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
        ] {
            assert_eq!(json(f).parse::<f64>().unwrap(), f);
        }
        assert_eq!(json(f64::NAN), "null");
        assert_eq!(json(f64::NEG_INFINITY), "null");
    }

    #[test]
    fn python_floats_switch_notation_where_python_does() {
        let cases = [
            (0.0001, "0.0001"),
            (0.000099999, "9.9999e-05"),
            (0.001, "0.001"),
            (1e-5, "1e-05"),
            (1e15, "1000000000000000.0"),
            (9999999999999998.0, "9999999999999998.0"),
            (1e16, "1e+16"),
            (1.5e300, "1.5e+300"),
            (1e-300, "1e-300"),
            (-2.5, "-2.5"),
            (-0.0, "-0.0"),
            (3.0, "3.0"),
            (f64::INFINITY, "inf"),
        ];
        for (f, text) in cases {
            assert_eq!(python_float(f), text, "{f:e}");
        }
    }

    #[test]
    fn floats_like_python_str() {
        let cases = [
            (0.0, "0.0"),
            (-0.0, "-0.0"),
            (2.5, "2.5"),
            (2.0, "2.0"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (0.004999995231628418, "0.004999995231628418"),
            (0.1 + 0.2, "0.30000000000000004"),
            (1234567890.5, "1234567890.5"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (1.5e20, "1.5e+20"),
            (-2.5e-7, "-2.5e-07"),
            (1e100, "1e+100"),
            (f64::MAX, "1.7976931348623157e+308"),
            (5e-324, "5e-324"),
            (f64::NAN, "nan"),
            (f64::INFINITY, "inf"),
            (f64::NEG_INFINITY, "-inf"),
        ];
        for (value, text) in cases {
            assert_eq!(python_float(value), text, "{value:e}");
        }
    }

    #[cfg(feature = "prometheus")]
    #[test]
    fn prometheus_spells_non_finite_values() {
        let mut out = String::new();
        for f in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 0.5] {
            push_prometheus_float(&mut out, f);
            out.push(' ');
        }
        assert_eq!(out, "NaN +Inf -Inf 0.5 ");
    }
}
