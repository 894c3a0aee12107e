//! HTML escaping and the page frame.

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Percent-encodes a path segment (for links to models and experiments with any name).
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes a percent-encoded path segment; `None` when it is not valid UTF-8 or has a bad escape.
pub fn decode_segment(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Formats milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn time(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => homeml_tracking::util::format_ms(ms),
        None => "-".into(),
    }
}

/// A duration in ms as `1.2 s`, `3 min 4 s`.
pub fn duration(start: Option<i64>, end: Option<i64>) -> String {
    match (start, end) {
        (Some(s), Some(e)) if e >= s => {
            let ms = e - s;
            if ms < 60_000 {
                format!("{:.1} s", ms as f64 / 1000.0)
            } else {
                format!("{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
            }
        }
        _ => "-".into(),
    }
}

/// The pages' one stylesheet, inline; the Content-Security-Policy allows exactly it, by its hash (see
/// [`super::headers`]).
pub const STYLE: &str = "body { font: 14px/1.45 system-ui, sans-serif; margin: 0; color: #1f2328; }
header { background: #24292f; color: #fff; padding: 10px 24px; }
header a { color: #fff; text-decoration: none; font-weight: 600; }
main { padding: 16px 24px; }
table { border-collapse: collapse; margin: 8px 0 20px; }
th, td { border-bottom: 1px solid #d0d7de; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 16px; }
.charts figure { margin: 0; }
.muted { color: #57606a; }
.notice { background: #fff8c5; border: 1px solid #d4a72c; padding: .5em; }
code { background: #f6f8fa; padding: 1px 4px; border-radius: 3px; }
";

/// Wraps a page body in the shared frame.
pub fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{t} · homeml</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{style}</style></head>
<body><header><a href="/">homeml</a> <span class="muted">tracking (read-only)</span></header>
<main><h1>{t}</h1>
{body}
</main></body></html>
"#,
        t = escape(title),
        style = STYLE,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn segments_round_trip() {
        for s in ["iris", "my model/v2", "ünï cödé", "a%b"] {
            assert_eq!(decode_segment(&encode_segment(s)).as_deref(), Some(s));
        }
        assert_eq!(decode_segment("%zz"), None);
        assert_eq!(decode_segment("%ff"), None);
    }

    #[test]
    fn formats_times_and_durations() {
        assert_eq!(time(Some(0)), "1970-01-01 00:00:00");
        assert_eq!(time(None), "-");
        assert_eq!(duration(Some(0), Some(1500)), "1.5 s");
        assert_eq!(duration(Some(0), Some(125_000)), "2 min 5 s");
        assert_eq!(duration(Some(5), None), "-");
    }
}
