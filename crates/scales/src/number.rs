//! Number spelling shared by every format: JSON's, Python's `str(float)` (the HTML page,
//! Prometheus quantile labels, queries), Prometheus sample values and Rust's `{:?}` (Graphite).
//!
//! Floats are spelled from ryu's shortest digits rather than through `core::fmt`, which costs
//! several times as much; the tests check the text against `core::fmt`'s.

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
    crate::append::push(out, itoa::Buffer::new().format(i));
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
    // Python switches notation where `{:?}` does (below 1e-4 and from 1e16 on) and finds the
    // same digits; only its exponent differs, with a sign always and at least two digits
    // (`1e+16`, `1.5e-07`).
    let start = out.len();
    push_debug_float(out, f);
    // `{:?}`'s decimal range, which has no exponent to respell.
    if (1e-4..1e16).contains(&f.abs()) {
        return;
    }
    if let Some(e) = out[start..].bytes().position(|b| b == b'e') {
        let mut digits = start + e + 1;
        if out[digits..].starts_with('-') {
            digits += 1;
        } else {
            out.insert(digits, '+');
            digits += 1;
        }
        if out.len() - digits < 2 {
            out.insert(digits, '0');
        }
    }
}

/// Whether `f` might lie exactly halfway between its two nearest shortest spellings, where
/// ryu takes the even last digit and `core::fmt` the one away from zero (`1308548795726862.25`:
/// ryu `...862.2`, `core::fmt` `...862.3`).
///
/// Halfway between two `n`-digit decimals is a decimal of `n + 1` digits ending in 5, so `f`'s
/// exact decimal expansion must be that short. A float with `b` bits after the binary point
/// has exactly `b` decimal places, so its expansion has `b + floor(log10 |f|) + 1`
/// significant digits; and one of 15 or fewer is its own shortest spelling (two decimals of
/// 15 digits never read as the same float), so only 16 to 18 digits can tie. This answers
/// true for every such float and a few more around them (`log10` is estimated from the
/// binary exponent), and false for integers and for the floats of full precision that
/// measurements are.
fn may_tie(f: f64) -> bool {
    let bits = f.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let mantissa = bits & ((1 << 52) - 1);
    if exponent == 0 {
        // Subnormal (or zero): hundreds of decimal places, or none.
        return false;
    }
    // f = (2^52 + mantissa) * 2^(exponent - 1075); the low zero bits shorten the fraction.
    let fraction_bits = 1075 - exponent - ((1 << 52) | mantissa).trailing_zeros() as i32;
    if fraction_bits <= 0 {
        return false;
    }
    // log10 |f| is in [estimate, estimate + 0.302).
    let estimate = f64::from(exponent - 1023) * std::f64::consts::LOG10_2;
    let digits = f64::from(fraction_bits) + estimate;
    (14.5..18.5).contains(&digits)
}

/// Appends a finite `f` as `{:?}` spells it, without `core::fmt`: the shortest text that
/// reads back as the same float (ryu finds the same digits as `core::fmt`), in decimal from
/// 1e-4 up to 1e16 (`0.0001`, `2.0`) and in exponent notation outside (`1.5e-7`, `1e16`).
pub(crate) fn push_debug_float(out: &mut String, f: f64) {
    if may_tie(f) {
        return write!(out, "{f:?}").expect("writing to a String cannot fail");
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(f);
    // ryu lays its digits out as `{:?}` does, except from 1e-5 up to 1e-4: it writes those
    // in decimal (`0.000015`, always with four zeros after the point, as it switches at
    // 1e-5) where `{:?}` writes `1.5e-5`.
    let (sign, unsigned) = match text.strip_prefix('-') {
        Some(unsigned) => ("-", unsigned),
        None => ("", text),
    };
    let Some(digits) = unsigned.strip_prefix("0.0000") else {
        #[cfg(any(feature = "prometheus", feature = "graphite"))]
        return crate::append::push(out, text);
        #[cfg(not(any(feature = "prometheus", feature = "graphite")))]
        return out.push_str(text);
    };
    let (first, rest) = digits.split_at(1);
    out.push_str(sign);
    out.push_str(first);
    if !rest.is_empty() {
        out.push('.');
        out.push_str(rest);
    }
    out.push_str("e-5");
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

    /// Floats of every magnitude and edge: random bit patterns, random values around each
    /// power of ten, and the neighbours of the thresholds where the notation switches.
    fn many_floats() -> Vec<f64> {
        use rand::{rngs::SmallRng, RngCore, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(0x9E37_79B9_7F4A_7C15);
        let mut next = move || rng.next_u64();
        let mut floats = vec![0.0, -0.0, f64::MAX, f64::MIN, f64::MIN_POSITIVE, 5e-324];
        for _ in 0..100_000 {
            floats.push(f64::from_bits(next()));
        }
        for exponent in -325..=309 {
            let power: f64 = format!("1e{exponent}").parse().unwrap();
            let below = f64::from_bits(power.to_bits().saturating_sub(1));
            let above = f64::from_bits(power.to_bits() + 1);
            floats.extend([
                power,
                below,
                above,
                -power,
                power * 1.5,
                power * 0.123_456_7,
            ]);
            for _ in 0..20 {
                floats.push(power * (next() >> 11) as f64 / (1u64 << 53) as f64);
            }
        }
        // Floats with few bits after the point, some of which tie (see `may_tie`).
        for fraction_bits in 1..=30 {
            for magnitude in 4..=17 {
                for _ in 0..50 {
                    let whole = next() % 10u64.pow(magnitude);
                    let fraction = (next() % (1 << fraction_bits)) | 1;
                    let f = whole as f64 + fraction as f64 / (1u64 << fraction_bits) as f64;
                    floats.extend([f, -f]);
                }
            }
        }
        floats.retain(|f| f.is_finite());
        floats
    }

    /// `python_float` as it was written with `core::fmt`, the reference.
    fn python_float_by_fmt(f: f64) -> String {
        let scientific = format!("{f:e}");
        let (mantissa, exponent) = scientific.split_once('e').unwrap();
        let exponent: i32 = exponent.parse().unwrap();
        if f == 0.0 || (-4..16).contains(&exponent) {
            let text = f.to_string();
            if text.contains('.') {
                text
            } else {
                text + ".0"
            }
        } else {
            let sign = if exponent < 0 { '-' } else { '+' };
            format!("{mantissa}e{sign}{:02}", exponent.abs())
        }
    }

    #[test]
    fn floats_spelled_as_core_fmt_spells_them() {
        for f in many_floats() {
            let mut debug = String::new();
            push_debug_float(&mut debug, f);
            assert_eq!(debug, format!("{f:?}"), "{f:e}");
            assert_eq!(python_float(f), python_float_by_fmt(f), "{f:e}");
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
