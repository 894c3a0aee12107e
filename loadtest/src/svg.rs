//! A hand-written SVG plot of latency by percentile (one curve per report), HdrHistogram style:
//! the x axis spreads the tail (`0%, 90%, 99%, 99.9%, ...` equally spaced), the y axis is
//! logarithmic in milliseconds.

use std::fmt::Write as _;

use crate::report::{PercentilePoint, Report};

/// One curve of the plot.
#[derive(Debug, Clone)]
pub struct Series<'a> {
    /// Legend text.
    pub label: &'a str,
    /// Latency by percentile.
    pub points: &'a [PercentilePoint],
}

impl<'a> Series<'a> {
    /// A curve from a report, labelled with the report's label or URL.
    pub fn from_report(r: &'a Report) -> Self {
        Series {
            label: r.label.as_deref().unwrap_or(&r.url),
            points: &r.percentiles,
        }
    }
}

const W: f64 = 860.0;
const H: f64 = 500.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 220.0;
const TOP: f64 = 50.0;
const BOTTOM: f64 = 60.0;
const COLORS: [&str; 8] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf",
];
/// Smallest latency shown, milliseconds (the y axis is logarithmic).
const FLOOR_MS: f64 = 0.001;

/// Escapes text for XML content and attributes.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && c != '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Position of a percentile on the x axis: `log10(1 / (1 - p))` (0 at 0%, 1 at 90%, 2 at 99%).
fn tail_x(percentile: f64) -> f64 {
    let q = (percentile / 100.0).clamp(0.0, 1.0 - 1e-9);
    -(1.0 - q).log10()
}

fn pct_label(nines: i32) -> String {
    match nines {
        0 => "0%".to_string(),
        n => {
            let p = 100.0 * (1.0 - 10f64.powi(-n));
            let decimals = (n - 2).max(0) as usize;
            format!("{p:.decimals$}%")
        }
    }
}

fn ms_label(exp: i32) -> String {
    let v = 10f64.powi(exp);
    if exp >= 3 {
        format!("{}s", v / 1000.0)
    } else if exp >= 0 {
        format!("{v}ms")
    } else {
        format!("{}us", v * 1000.0)
    }
}

/// Renders the curves as a standalone SVG document with a title.
pub fn render(title: &str, series: &[Series<'_>]) -> String {
    let all = || series.iter().flat_map(|s| s.points.iter());
    let max_x = all()
        .map(|p| tail_x(p.percentile))
        .fold(2.0f64, f64::max)
        .ceil();
    let lat = |p: &PercentilePoint| p.latency_ms.max(FLOOR_MS);
    let lo = all().map(lat).fold(f64::INFINITY, f64::min);
    let hi = all().map(lat).fold(0.0f64, f64::max);
    let (y_lo, y_hi) = if lo.is_finite() && hi > 0.0 {
        let a = lo.log10().floor() as i32;
        let b = (hi.log10().ceil() as i32).max(a + 1);
        (a, b)
    } else {
        (-1, 2)
    };
    let pw = W - LEFT - RIGHT;
    let ph = H - TOP - BOTTOM;
    let sx = |x: f64| LEFT + pw * x / max_x;
    let sy = |ms: f64| {
        let t = (ms.max(FLOOR_MS).log10() - y_lo as f64) / (y_hi - y_lo) as f64;
        TOP + ph * (1.0 - t)
    };

    let mut s = String::new();
    let _ = writeln!(s, r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        s,
        r#"<rect x="0" y="0" width="{W}" height="{H}" fill="white"/>"#
    );
    let _ = writeln!(
        s,
        r#"<text x="{}" y="28" font-size="16" text-anchor="middle">{}</text>"#,
        LEFT + pw / 2.0,
        esc(title)
    );
    // Grid and ticks.
    for n in 0..=(max_x as i32) {
        let x = sx(n as f64);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{TOP}" x2="{x:.1}" y2="{:.1}" stroke="#ddd"/><text x="{x:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP + ph,
            TOP + ph + 18.0,
            pct_label(n)
        );
    }
    for e in y_lo..=y_hi {
        let y = sy(10f64.powi(e));
        let _ = writeln!(
            s,
            r##"<line x1="{LEFT}" y1="{y:.1}" x2="{:.1}" y2="{y:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{}</text>"##,
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0,
            ms_label(e)
        );
    }
    let _ = writeln!(
        s,
        r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
    );
    let _ = writeln!(
        s,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">percentile</text>"#,
        LEFT + pw / 2.0,
        H - 15.0
    );
    let _ = writeln!(
        s,
        r#"<text x="18" y="{:.1}" text-anchor="middle" transform="rotate(-90 18 {:.1})">latency (log scale)</text>"#,
        TOP + ph / 2.0,
        TOP + ph / 2.0
    );
    // Curves and legend.
    for (i, serie) in series.iter().enumerate() {
        let color = COLORS[i % COLORS.len()];
        let mut d = String::new();
        for (j, p) in serie.points.iter().enumerate() {
            let _ = write!(
                d,
                "{}{:.1},{:.1}",
                if j == 0 { "M" } else { " L" },
                sx(tail_x(p.percentile)),
                sy(p.latency_ms)
            );
        }
        if !d.is_empty() {
            let _ = writeln!(
                s,
                r#"<path d="{d}" fill="none" stroke="{color}" stroke-width="2"/>"#
            );
        }
        let ly = TOP + 10.0 + 22.0 * i as f64;
        let lx = LEFT + pw + 15.0;
        let _ = writeln!(
            s,
            r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="3"/><text x="{:.1}" y="{:.1}">{}</text>"#,
            lx + 20.0,
            lx + 26.0,
            ly + 4.0,
            esc(serie.label)
        );
    }
    s.push_str("</svg>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_and_escaping() {
        assert_eq!(pct_label(0), "0%");
        assert_eq!(pct_label(1), "90%");
        assert_eq!(pct_label(2), "99%");
        assert_eq!(pct_label(3), "99.9%");
        assert_eq!(pct_label(4), "99.99%");
        assert_eq!(ms_label(0), "1ms");
        assert_eq!(ms_label(-1), "100us");
        assert_eq!(esc("a<b & \"c\""), "a&lt;b &amp; &quot;c&quot;");
        assert!((tail_x(99.0) - 2.0).abs() < 1e-9);
    }

    #[test]
    fn empty_plot_is_still_a_document() {
        let svg = render("nothing", &[]);
        assert!(svg.starts_with("<?xml"));
        assert!(svg.trim_end().ends_with("</svg>"));
    }
}
