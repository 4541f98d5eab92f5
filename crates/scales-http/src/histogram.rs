//! A distribution's real shape, drawn as an inline SVG from its sketch: one bar per sketch
//! bucket holding values (merged into at most [`MAX_BARS`] even steps of a log-scale x axis
//! when there are more), and markers at p50, p99 and p99.9.
//!
//! The SVG has no `style` attributes (the page's stylesheet colours it by class), so the
//! strict Content-Security-Policy holds.
//!
//! Depends on: `units`.

use std::fmt::Write as _;

use scales::format::html::escape_into;
use scales::sketch::SketchSnapshot;

use crate::units::Unit;

/// The most bars drawn.
pub(crate) const MAX_BARS: usize = 64;
const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 170.0;
const LEFT: f64 = 8.0;
const RIGHT: f64 = 8.0;
/// Room above the bars for the percentile labels, one line each.
const TOP: f64 = 40.0;
const BOTTOM: f64 = 22.0;

/// The lower bound of the values in bucket `index` (a normal `f64`'s bucket is its bits
/// shifted right by 46, plus 4096; see `docs/sketch-json.md`).
fn lower_bound(index: u32) -> f64 {
    let bits = u64::from(index.saturating_sub(4096)) << 46;
    let v = f64::from_bits(bits);
    if v > 0.0 {
        v
    } else {
        f64::MIN_POSITIVE
    }
}

/// The bars: `(from, to, count)` over value ranges, in increasing order.
pub(crate) fn bars(sketch: &SketchSnapshot) -> Vec<(f64, f64, u64)> {
    let buckets = sketch.positive_buckets();
    let exact: Vec<(f64, f64, u64)> = buckets
        .iter()
        .filter(|(_, count)| *count > 0)
        .map(|&(index, count)| (lower_bound(index), lower_bound(index + 1), count))
        .collect();
    if exact.len() <= MAX_BARS {
        return exact;
    }
    let (lo, hi) = (exact[0].0.ln(), exact[exact.len() - 1].1.ln());
    let step = (hi - lo) / MAX_BARS as f64;
    let mut merged: Vec<(f64, f64, u64)> = Vec::new();
    for (from, _, count) in exact {
        let bin = (((from.ln() - lo) / step) as usize).min(MAX_BARS - 1);
        let (a, b) = (
            (lo + step * bin as f64).exp(),
            (lo + step * (bin + 1) as f64).exp(),
        );
        match merged.last_mut() {
            Some(last) if last.0 == a => last.2 += count,
            _ => merged.push((a, b, count)),
        }
    }
    merged
}

/// The histogram of `sketch` as an `<svg class="histogram">`, or a short note when there is
/// nothing to draw.
pub(crate) fn write(sketch: &SketchSnapshot, unit: Unit, out: &mut String) {
    let bars = bars(sketch);
    let not_drawn = sketch.count() - bars.iter().map(|b| b.2).sum::<u64>();
    if bars.is_empty() {
        out.push_str("<p class=\"note\">No values above zero to draw.</p>");
        return;
    }
    let (mut lo, mut hi) = (bars[0].0, bars[bars.len() - 1].1);
    if hi / lo < 4.0 {
        // A narrow distribution: some room either side, so its shape is seen in context.
        let pad = (4.0 / (hi / lo)).sqrt();
        lo /= pad;
        hi *= pad;
    }
    let (ln_lo, ln_hi) = (lo.ln(), hi.ln());
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |v: f64| LEFT + plot_w * (v.max(lo).ln() - ln_lo) / (ln_hi - ln_lo);
    let tallest = bars.iter().map(|b| b.2).max().unwrap_or(1) as f64;
    let _ = write!(
        out,
        "<svg class=\"histogram\" data-bars=\"{}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-label=\"histogram of {} values, \
         log-scale x axis\">",
        bars.len(),
        sketch.count()
    );
    let _ = write!(
        out,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\"/>",
        TOP + plot_h,
        LEFT + plot_w
    );
    // Ticks at the powers of ten in range (at each end when there are fewer than two).
    let mut ticks: Vec<f64> = Vec::new();
    let mut p = 10f64.powf(lo.log10().ceil());
    while p <= hi && ticks.len() < 12 {
        ticks.push(p);
        p *= 10.0;
    }
    if ticks.len() < 2 {
        ticks = vec![bars[0].0, bars[bars.len() - 1].1];
    }
    for t in ticks {
        let tx = x(t);
        let _ = write!(
            out,
            "<line class=\"tick\" x1=\"{tx:.1}\" y1=\"{TOP}\" x2=\"{tx:.1}\" y2=\"{:.1}\"/>\
             <text class=\"tick{}\" x=\"{tx:.1}\" y=\"{:.1}\">",
            TOP + plot_h + 4.0,
            anchor(tx),
            HEIGHT - 6.0
        );
        escape_into(out, &unit.show(t));
        out.push_str("</text>");
    }
    for &(from, to, count) in &bars {
        let (x0, x1) = (x(from), x(to));
        let h = (plot_h * count as f64 / tallest).max(1.0);
        // A thin bucket still shows: at least 3 px, centred on it.
        let w = (x1 - x0).max(3.0);
        let x0 = x0 - (w - (x1 - x0)) / 2.0;
        let _ = write!(
            out,
            "<rect class=\"bar\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\">\
             <title>",
            TOP + plot_h - h,
            w
        );
        escape_into(
            out,
            &format!(
                "{} … {}: {} values",
                unit.show(from),
                unit.show(to),
                crate::units::grouped(i128::from(count))
            ),
        );
        out.push_str("</title></rect>");
    }
    // One line of labels per marker, so that close percentiles do not overlap.
    for (line, (label, q)) in [("p50", 0.5), ("p99", 0.99), ("p99.9", 0.999)]
        .into_iter()
        .enumerate()
    {
        let Some(v) = sketch.quantile(q).filter(|v| *v > 0.0) else {
            continue;
        };
        let mx = x(v);
        let y = 10.0 + 12.0 * line as f64;
        let _ = write!(
            out,
            "<line class=\"marker\" x1=\"{mx:.1}\" y1=\"{:.1}\" x2=\"{mx:.1}\" y2=\"{:.1}\"/>\
             <text class=\"marker{}\" x=\"{mx:.1}\" y=\"{y:.1}\">",
            y + 2.0,
            TOP + plot_h,
            anchor(mx)
        );
        escape_into(out, &format!("{label} {}", unit.show(v)));
        out.push_str("</text>");
    }
    out.push_str("</svg>");
    if not_drawn > 0 {
        let _ = write!(
            out,
            "<p class=\"note\">{} values at or below zero are not drawn (log scale).</p>",
            crate::units::grouped(i128::from(not_drawn))
        );
    }
}

/// Labels near an edge are anchored inside the drawing (classes of the stylesheet).
fn anchor(x: f64) -> &'static str {
    if x < 50.0 {
        " start"
    } else if x > WIDTH - 50.0 {
        " end"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_bar_per_bucket_then_merged() {
        let sketch = SketchSnapshot::from_values([0.001, 0.001, 0.01, 0.1, 1.0]);
        let b = bars(&sketch);
        assert_eq!(b.len(), 4);
        assert_eq!(b.iter().map(|b| b.2).sum::<u64>(), 5);
        assert!(b.windows(2).all(|w| w[0].1 <= w[1].0));
        assert!(b[0].0 <= 0.001 && 0.001 < b[0].1, "{b:?}");
        let wide = SketchSnapshot::from_values((1..5000).map(|i| f64::from(i) * 0.37));
        let b = bars(&wide);
        assert!(b.len() <= MAX_BARS && b.len() > 20, "{}", b.len());
        assert_eq!(b.iter().map(|b| b.2).sum::<u64>(), 4999);
    }

    #[test]
    fn svg_counts_its_bars() {
        let sketch = SketchSnapshot::from_values([0.002, 0.02, 0.2, 0.0, -1.0]);
        let mut out = String::new();
        write(&sketch, Unit::Seconds, &mut out);
        assert!(out.contains("data-bars=\"3\""), "{out}");
        assert_eq!(out.matches("<rect class=\"bar\"").count(), 3);
        assert!(out.contains("p99"));
        assert!(out.contains("2 values at or below zero"));
        assert!(!out.contains("style="));
    }
}
