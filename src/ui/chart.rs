//! Inline SVG line charts of metric histories: no JavaScript, no build step.

use std::fmt::Write;

/// Width and height of a chart in pixels.
const W: f64 = 520.0;
const H: f64 = 200.0;
/// Margins for the axis labels.
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 10.0;
const RIGHT: f64 = 12.0;

/// The colour of the line (the test of the UI looks for it in a screenshot).
pub const LINE_COLOUR: &str = "#1f6feb";

/// An SVG line chart of `(step, value)` points; non-finite values are left out. `None` when no point is finite.
pub fn line_chart(title: &str, points: &[(i64, f64)]) -> Option<String> {
    let pts: Vec<(f64, f64)> = points
        .iter()
        .filter(|(_, v)| v.is_finite())
        .map(|&(s, v)| (s as f64, v))
        .collect();
    let first = pts.first()?;
    let (mut x0, mut x1, mut y0, mut y1) = (first.0, first.0, first.1, first.1);
    for &(x, y) in &pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if x1 == x0 {
        x0 -= 1.0;
        x1 += 1.0;
    }
    if y1 == y0 {
        let pad = if y0 == 0.0 { 1.0 } else { y0.abs() * 0.1 };
        y0 -= pad;
        y1 += pad;
    }
    let sx = |x: f64| LEFT + (x - x0) / (x1 - x0) * (W - LEFT - RIGHT);
    let sy = |y: f64| TOP + (1.0 - (y - y0) / (y1 - y0)) * (H - TOP - BOTTOM);
    let mut path = String::new();
    for (i, &(x, y)) in pts.iter().enumerate() {
        let _ = write!(
            path,
            "{}{:.1},{:.1}",
            if i == 0 { "M" } else { " L" },
            sx(x),
            sy(y)
        );
    }
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" role="img" aria-label="{t}">"#,
        t = crate::ui::html::escape(title)
    );
    let _ = write!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{w}" height="{h}" fill="#fafbfc" stroke="#d0d7de"/>"##,
        w = W - LEFT - RIGHT,
        h = H - TOP - BOTTOM
    );
    for (y, anchor) in [(y1, TOP + 10.0), (y0, H - BOTTOM)] {
        let _ = write!(
            svg,
            r##"<text x="{x}" y="{anchor}" font-size="11" text-anchor="end" fill="#57606a">{v}</text>"##,
            x = LEFT - 4.0,
            v = short_number(y)
        );
    }
    for (x, anchor) in [(x0, "start"), (x1, "end")] {
        let _ = write!(
            svg,
            r##"<text x="{px}" y="{py}" font-size="11" text-anchor="{anchor}" fill="#57606a">step {v}</text>"##,
            px = sx(x),
            py = H - 6.0,
            v = short_number(x)
        );
    }
    let _ = write!(
        svg,
        r#"<path d="{path}" fill="none" stroke="{LINE_COLOUR}" stroke-width="2.5" stroke-linejoin="round"/>"#
    );
    if pts.len() <= 60 {
        for &(x, y) in &pts {
            let _ = write!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{LINE_COLOUR}"/>"#,
                sx(x),
                sy(y)
            );
        }
    }
    svg.push_str("</svg>");
    Some(svg)
}

/// A number in at most ~6 significant characters.
pub fn short_number(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e9 {
        format!("{v:.0}")
    } else if v.abs() >= 1e4 || v.abs() < 1e-3 {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_a_path_through_every_finite_point() {
        let svg = line_chart("loss", &[(0, 1.0), (1, 0.5), (2, f64::NAN), (3, 0.25)]).unwrap();
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert_eq!(svg.matches("<circle").count(), 3);
        assert!(svg.contains(LINE_COLOUR));
    }

    #[test]
    fn handles_single_points_and_nothing() {
        assert!(line_chart("x", &[(5, 2.0)]).is_some());
        assert!(line_chart("x", &[]).is_none());
        assert!(line_chart("x", &[(0, f64::INFINITY)]).is_none());
    }
}
