//! Reading and writing `meta.yaml` files (PyYAML `safe_dump` style), tolerant of what every MLflow
//! version wrote (ids as numbers or strings, missing fields, nulls).

use std::path::Path;

use serde_json::{Map, Value};

use crate::error::{Result, TrackingError};
use crate::fsx;

/// A parsed meta file: its top-level mapping.
#[derive(Debug, Clone, Default)]
pub(crate) struct Meta(pub Map<String, Value>);

impl Meta {
    /// Parses meta text; `kind` and `path` name the object in errors.
    pub(crate) fn parse(text: &str, kind: &'static str, path: &Path) -> Result<Meta> {
        let corrupt = |message: String| TrackingError::Corrupt {
            kind,
            path: path.to_path_buf(),
            message,
        };
        if text.trim().is_empty() {
            return Err(corrupt("the file is empty".into()));
        }
        if let Some(m) = parse_flat(text) {
            return Ok(Meta(m));
        }
        let v: Value = homeml_flavor::yaml::from_str(text).map_err(|e| corrupt(e.0))?;
        match v {
            Value::Object(m) => Ok(Meta(m)),
            other => Err(corrupt(format!("expected a mapping, found {other}"))),
        }
    }

    /// Reads `path`; `Ok(None)` when it does not exist.
    pub(crate) fn read_opt(path: &Path, kind: &'static str) -> Result<Option<Meta>> {
        match fsx::read_opt(path)? {
            Some(text) => Meta::parse(&text, kind, path).map(Some),
            None => Ok(None),
        }
    }

    /// Reads `path`; a missing file is `NotFound` for `kind` `name`.
    pub(crate) fn read(path: &Path, kind: &'static str, name: &str) -> Result<Meta> {
        Meta::read_opt(path, kind)?.ok_or_else(|| TrackingError::not_found_at(kind, name, path))
    }

    /// Writes the meta atomically.
    pub(crate) fn write(&self, tmp_dir: &Path, path: &Path) -> Result<()> {
        let text = self.to_yaml(path)?;
        fsx::atomic_write(tmp_dir, path, text.as_bytes())
    }

    /// Writes the meta only if `path` does not exist yet. Returns false if it existed.
    pub(crate) fn write_new(&self, tmp_dir: &Path, path: &Path) -> Result<bool> {
        let text = self.to_yaml(path)?;
        fsx::write_new(tmp_dir, path, text.as_bytes())
    }

    fn to_yaml(&self, path: &Path) -> Result<String> {
        homeml_flavor::yaml::to_string(&Value::Object(self.0.clone())).map_err(|e| {
            TrackingError::Corrupt {
                kind: "meta",
                path: path.to_path_buf(),
                message: e.0,
            }
        })
    }

    /// Sets a field.
    pub(crate) fn set(&mut self, key: &str, v: impl Into<Value>) -> &mut Self {
        self.0.insert(key.to_string(), v.into());
        self
    }

    /// A string field; numbers are turned into strings (old MLflow wrote ids as ints).
    pub(crate) fn str(&self, key: &str) -> Option<String> {
        match self.0.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// An integer field (accepts numeric strings).
    pub(crate) fn int(&self, key: &str) -> Option<i64> {
        match self.0.get(key)? {
            Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }

    /// A string field that must be there.
    pub(crate) fn req_str(&self, key: &str, kind: &'static str, path: &Path) -> Result<String> {
        self.str(key).ok_or_else(|| TrackingError::Corrupt {
            kind,
            path: path.to_path_buf(),
            message: format!("field '{key}' is missing"),
        })
    }
}

/// Parses the flat `key: scalar` mapping that MLflow's file store (and this crate) writes, without
/// the YAML parser: one top-level key per line, values that are plain strings, integers, null, `[]`,
/// `{}`, single- or double-quoted strings on one line, or a `>-`/`|-` block scalar.
///
/// Returns `None` for anything outside that subset (nested mappings, sequences, multi-line quoted
/// strings, escapes, comments, floats, booleans, duplicate keys, tabs, ...): the caller then parses
/// the text with the full YAML parser, so the result (or the error) is always the YAML parser's.
/// Every value this function returns is the one the YAML parser returns for the same text.
pub(crate) fn parse_flat(text: &str) -> Option<Map<String, Value>> {
    if text.starts_with('\u{feff}') || text.contains('\t') {
        return None;
    }
    let mut map = Map::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim_matches(' ').is_empty() {
            continue;
        }
        let (key, rest) = line.split_once(':')?;
        if !is_plain_key(key) || !(rest.is_empty() || rest.starts_with(' ')) {
            return None;
        }
        let raw = rest.trim_matches(' ');
        let value = match raw.as_bytes().first() {
            Some(b'>') | Some(b'|') => {
                let folded = raw.starts_with('>');
                // Only the strip chomping (`>-`, `|-`) that writers use: clip and keep depend on
                // the trailing line breaks of the file.
                if &raw[1..] != "-" {
                    return None;
                }
                let mut parts: Vec<&str> = Vec::new();
                let mut indent = 0;
                while let Some(next) = lines.peek() {
                    let n = next.len() - next.trim_start_matches(' ').len();
                    if n == 0 {
                        if next.is_empty() {
                            // A blank line inside or after a block scalar: leave it to the parser.
                            return None;
                        }
                        break;
                    }
                    if indent == 0 {
                        indent = n;
                    }
                    let content = &next[n..];
                    if n != indent || content.is_empty() || content.chars().any(is_unusual) {
                        return None;
                    }
                    parts.push(content);
                    lines.next();
                }
                if parts.is_empty() {
                    return None;
                }
                Value::String(parts.join(if folded { " " } else { "\n" }))
            }
            _ => flat_scalar(raw)?,
        };
        if map.insert(key.to_string(), value).is_some() {
            // A duplicate key: the YAML parser decides what that means.
            return None;
        }
    }
    Some(map)
}

/// A key made of ASCII letters, digits and `_`, starting with a letter or `_`, that YAML does not
/// read as null or a boolean.
fn is_plain_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && !is_special_word(key)
}

/// Words a YAML 1.1 or 1.2 parser may read as something other than a string.
fn is_special_word(s: &str) -> bool {
    const WORDS: [&str; 12] = [
        "null", "true", "false", "yes", "no", "on", "off", "y", "n", "nan", "inf", "infinity",
    ];
    // The longest word has 8 letters: longer strings are never special (and cost no comparison).
    s.len() <= 8 && WORDS.iter().any(|w| s.eq_ignore_ascii_case(w))
}

/// Characters the fast reader leaves to the YAML parser: controls, BOMs, Unicode line breaks.
fn is_unusual(c: char) -> bool {
    c.is_control() || matches!(c, '\u{feff}' | '\u{2028}' | '\u{2029}' | '\u{85}')
}

/// One scalar on one line (already trimmed of spaces), or `None` when it is not in the fast subset.
fn flat_scalar(raw: &str) -> Option<Value> {
    if raw.chars().any(is_unusual) {
        return None;
    }
    let first = *raw.as_bytes().first().unwrap_or(&b' ');
    match first {
        b' ' => Some(Value::Null),
        b'\'' => {
            let inner = raw[1..].strip_suffix('\'')?;
            // Inside, a quote is written twice; a lone one would end the scalar early.
            let mut out = String::with_capacity(inner.len());
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == '\'' && chars.next() != Some('\'') {
                    return None;
                }
                out.push(c);
            }
            Some(Value::String(out))
        }
        b'"' => {
            let inner = raw[1..].strip_suffix('"')?;
            if inner.contains(['"', '\\']) {
                return None;
            }
            Some(Value::String(inner.to_string()))
        }
        b'0'..=b'9' | b'-' | b'+' | b'.' => {
            let digits = raw.strip_prefix('-').unwrap_or(raw);
            let canonical = !digits.is_empty()
                && digits.bytes().all(|c| c.is_ascii_digit())
                && (digits == "0" || !digits.starts_with('0'))
                && raw != "-0";
            if canonical {
                return raw.parse::<i64>().ok().map(Value::from);
            }
            // Hex ids that start with a digit (`5f1c...`) are strings; anything a YAML 1.1 or 1.2
            // parser might read as a number, a date or a sexagesimal goes to the parser.
            if !first.is_ascii_digit() || may_be_number(raw) {
                return None;
            }
            plain_string(raw)
        }
        _ => {
            if matches!(raw, "~" | "null" | "Null" | "NULL") {
                return Some(Value::Null);
            }
            if raw == "[]" {
                return Some(Value::Array(Vec::new()));
            }
            if raw == "{}" {
                return Some(Value::Object(Map::new()));
            }
            let starts_plain = raw.starts_with(|c: char| c.is_alphabetic() || c == '/' || c == '_');
            if !starts_plain || is_special_word(raw) {
                return None;
            }
            plain_string(raw)
        }
    }
}

/// A plain (unquoted) one-line string, unless it holds a comment or a mapping indicator.
fn plain_string(raw: &str) -> Option<Value> {
    if raw.contains(": ") || raw.contains(" #") || raw.ends_with(':') {
        return None;
    }
    Some(Value::String(raw.to_string()))
}

/// Whether a plain scalar that starts with a digit may be read as something other than a string
/// by some YAML schema: prefixed or underscored integers, octal, floats and exponents, dates,
/// sexagesimal numbers.
fn may_be_number(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if lower.starts_with("0x") || lower.starts_with("0o") || lower.starts_with("0b") {
        return true;
    }
    if s.contains([':', '-', '+', '.', '_', ' ']) {
        return true;
    }
    // Only digits (leading zeros, too large), or digits with one exponent mark (`1e5`).
    s.bytes()
        .filter(|c| !c.is_ascii_digit())
        .all(|c| c == b'e' || c == b'E')
        && s.bytes().filter(|c| !c.is_ascii_digit()).count() <= 1
}

/// `Value::Null` for `None`.
pub(crate) fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map(Into::into).unwrap_or(Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_pyyaml_style() {
        let mut m = Meta::default();
        m.set("name", "Default")
            .set("experiment_id", "0")
            .set("creation_time", 1795880702196i64)
            .set("end_time", Value::Null)
            .set("entry_point_name", "")
            .set("tags", Value::Array(vec![]))
            .set("artifact_location", "file:///tmp/x y/0");
        let text = m.to_yaml(Path::new("meta.yaml")).unwrap();
        let back = Meta::parse(&text, "experiment", Path::new("meta.yaml")).unwrap();
        assert_eq!(back.str("experiment_id").as_deref(), Some("0"));
        assert_eq!(back.str("entry_point_name").as_deref(), Some(""));
        assert_eq!(back.int("creation_time"), Some(1795880702196));
        // A quoted string (PyYAML reads either quote style), never the integer 0.
        assert!(
            text.contains("experiment_id: '0'") || text.contains("experiment_id: \"0\""),
            "{text}"
        );
        assert!(text.contains("end_time: null"), "{text}");
        // Keys are sorted.
        let keys: Vec<&str> = text.lines().map(|l| l.split(':').next().unwrap()).collect();
        let mut sorted = keys.clone();
        sorted.sort();
        assert_eq!(keys, sorted, "{text}");
    }

    /// What the full YAML parser makes of `text`, when it is a mapping.
    fn full(text: &str) -> Option<Map<String, Value>> {
        match homeml_flavor::yaml::from_str::<Value>(text) {
            Ok(Value::Object(m)) => Some(m),
            _ => None,
        }
    }

    /// The fast reader takes `text` and agrees with the YAML parser.
    fn fast_agrees(text: &str) -> Map<String, Value> {
        let fast = parse_flat(text).unwrap_or_else(|| panic!("fast reader refused {text:?}"));
        assert_eq!(Some(&fast), full(text).as_ref(), "{text:?}");
        fast
    }

    const MLFLOW3_RUN: &str = "artifact_uri: file:///tmp/mlt/mlruns/391876350726875437/\
d0d513193fd54838bcfe28f6cfd86325/artifacts
deleted_time: 1795891550256
end_time: 1795891550250
entry_point_name: ''
experiment_id: '391876350726875437'
lifecycle_stage: deleted
run_id: d0d513193fd54838bcfe28f6cfd86325
run_name: ünïcode run
source_name: ''
source_type: 4
source_version: ''
start_time: 1795891550236
status: 3
tags: []
user_id: unknown
";

    #[test]
    fn fast_reader_reads_mlflow3_meta() {
        let m = fast_agrees(MLFLOW3_RUN);
        assert_eq!(m["experiment_id"], Value::from("391876350726875437"));
        assert_eq!(m["run_name"], Value::from("ünïcode run"));
        assert_eq!(m["status"], Value::from(3));
        assert_eq!(m["entry_point_name"], Value::from(""));
        assert_eq!(m["tags"], Value::Array(vec![]));
        let info = crate::runs::run_info_from_meta(&Meta(m), Path::new("/s/1/r")).unwrap();
        assert_eq!(info.lifecycle_stage, crate::LifecycleStage::Deleted);
        assert_eq!(info.deleted_time, Some(1795891550256));
        assert_eq!(info.status, crate::RunStatus::Finished);

        // An MLflow 3 experiment and a registered model (MLflow 3.17 fields, nulls, `{}`).
        fast_agrees(
            "artifact_location: file:///tmp/mlt/mlruns/0\ncreation_time: 1795891550219\n\
             effective_trace_archival_retention: null\nexperiment_id: '0'\n\
             last_update_time: 1795891550219\nlifecycle_stage: active\nname: Default\n\
             trace_location: null\nworkspace: default\n",
        );
        fast_agrees(
            "aliases: {}\ncreation_timestamp: 1795891550265\ndeployment_job_id: null\n\
             last_updated_timestamp: 1795891550265\nname: m\nworkspace: default\n",
        );
    }

    #[test]
    fn fast_reader_reads_mlflow2_meta() {
        // MLflow 1.x/2.x: run_uuid beside run_id, a numeric experiment id, `name`, no run_name.
        let text = "artifact_uri: /home/u/mlruns/0/5f1c/artifacts\nend_time: null\n\
                    entry_point_name: ''\nexperiment_id: 0\nlifecycle_stage: active\nname: ''\n\
                    run_id: 5f1c\nrun_uuid: 5f1c\nsource_name: ''\nsource_type: 4\n\
                    source_version: ''\nstart_time: 1600000000000\nstatus: 1\ntags: []\n\
                    user_id: someone\n";
        let m = Meta(fast_agrees(text));
        assert_eq!(m.str("experiment_id").as_deref(), Some("0"));
        assert_eq!(m.int("end_time"), None);
        let info = crate::runs::run_info_from_meta(&m, Path::new("/s/0/5f1c")).unwrap();
        assert_eq!(info.run_id, "5f1c");
        assert_eq!(info.run_name, "");
        assert_eq!(info.status, crate::RunStatus::Running);
    }

    #[test]
    fn fast_reader_reads_what_this_crate_writes() {
        let mut m = Meta::default();
        let long = format!("file:///tmp/{}/artifacts", "x".repeat(120));
        m.set("artifact_uri", long.as_str())
            .set("end_time", Value::Null)
            .set("entry_point_name", "")
            .set("experiment_id", "653726751773630525")
            .set("run_name", "it's a \"run\"")
            .set("start_time", 1795891363872i64)
            .set("status", 3)
            .set("tags", Value::Array(vec![]));
        let text = m.to_yaml(Path::new("meta.yaml")).unwrap();
        let back = parse_flat(&text);
        assert_eq!(back.as_ref(), full(&text).as_ref(), "{text}");
        // The long URI is written as a folded block scalar, which the fast reader takes.
        let mut plain = m.clone();
        plain.0.remove("run_name");
        let text = plain.to_yaml(Path::new("meta.yaml")).unwrap();
        let back = fast_agrees(&text);
        assert_eq!(back["artifact_uri"], Value::from(long));
    }

    #[test]
    fn fast_reader_odd_values() {
        let m = fast_agrees(
            "a: 'it''s'\n\nb: \"double\"\nc: ''\nd: \"\"\ne: '0'\nf:\ng: ~\nh: NULL\ni:   spaced   \n\
             j: -12\nk: 0\nl: file:///x#y\nm: a'b\"c\nnn: '  padded '\no: |-\n  one\n  two\n\
             p: >-\n  three\n  four\nq: 9223372036854775807\n\n",
        );
        assert_eq!(m["a"], Value::from("it's"));
        assert_eq!(m["b"], Value::from("double"));
        assert_eq!(m["c"], Value::from(""));
        assert_eq!(m["d"], Value::from(""));
        assert_eq!(m["e"], Value::from("0"));
        assert_eq!(m["f"], Value::Null);
        assert_eq!(m["g"], Value::Null);
        assert_eq!(m["h"], Value::Null);
        assert_eq!(m["i"], Value::from("spaced"));
        assert_eq!(m["j"], Value::from(-12));
        assert_eq!(m["k"], Value::from(0));
        assert_eq!(m["l"], Value::from("file:///x#y"));
        assert_eq!(m["m"], Value::from("a'b\"c"));
        assert_eq!(m["nn"], Value::from("  padded "));
        assert_eq!(m["o"], Value::from("one\ntwo"));
        assert_eq!(m["p"], Value::from("three four"));
        assert_eq!(m["q"], Value::from(i64::MAX));
        // Windows line ends.
        let m = fast_agrees("name: x\r\nstatus: 3\r\n");
        assert_eq!(m["name"], Value::from("x"));
    }

    #[test]
    fn fast_reader_leaves_the_rest_to_the_parser() {
        for text in [
            "name: 'multi\n\n  line'\n", // multi-line quoted
            "name: \"esc\\u0041\"\n",    // escapes
            "name: x # comment\n",       // comments
            "# comment\nname: x\n",
            "tags:\n- a\n- b\n",               // sequences
            "params:\n  a: 1\n",               // nested mappings
            "name: long plain\n  continued\n", // multi-line plain
            "v: 1.5\n",                        // floats
            "v: .inf\n",
            "v: 1e5\n",
            "v: 0x1f\n",
            "v: 010\n", // octal in YAML 1.1
            "v: -0\n",
            "v: 99999999999999999999\n",
            "v: true\n", // booleans
            "v: Yes\n",
            "v: nan\n",
            "v: 2026-11-28\n", // dates
            "v: 1:20\n",       // sexagesimal
            "v: [a]\n",        // flow collections
            "v: {a: 1}\n",
            "v: &a x\n", // anchors, tags
            "v: !!str 1\n",
            "v: >\n  clip\n",         // clip chomping
            "v: >-\n  a\n    more\n", // more-indented
            "v: >-\n",                // empty block
            "v:\tx\n",                // tabs
            "a: 1\na: 2\n",           // duplicate keys
            "\u{feff}a: 1\n",         // BOM
            "a b: 1\n",               // keys outside the subset
            "'a': 1\n",
            "null: 1\n",
            "a:b\n",         // not a mapping
            "---\na: 1\n",   // document markers
            "a: x\u{85}y\n", // Unicode line breaks
        ] {
            assert!(parse_flat(text).is_none(), "{text:?}");
            // Whatever the parser makes of it is what Meta::parse returns.
            let parsed = Meta::parse(text, "run", Path::new("m")).ok().map(|m| m.0);
            assert_eq!(parsed, full(text), "{text:?}");
        }
    }

    /// Documents built from fragments MLflow (and odd editors) write: whenever the fast reader takes
    /// one, its result equals the YAML parser's.
    #[test]
    fn fast_reader_agrees_with_the_parser_on_generated_documents() {
        const VALUES: &[&str] = &[
            "x",
            "Default",
            "''",
            "'0'",
            "\"\"",
            "\"a b\"",
            "'it''s'",
            "null",
            "~",
            "",
            "[]",
            "{}",
            "0",
            "12",
            "-3",
            "1795891550265",
            "007",
            "1.0",
            "true",
            "off",
            "file:///a/b c",
            "a: b",
            "a #b",
            "a#b",
            "'open",
            "\"open",
            "'a'b'",
            "ünï",
            "-",
            "--",
            "/x",
            "_y",
            "y",
            "N",
            "x:",
            "|-\n  l1\n  l2",
            ">-\n  f1\n  f2",
            ">-\n  f\n   g",
            "'q' ",
            "a'",
            "[",
            "@x",
            "%x",
            "`x`",
            "*x",
            "? x",
            "= x",
            "<< x",
            "5f1c9a",
            "0b3f",
            "0x1f",
            "123e4",
            "1E5",
            "12_3",
            "2026-11-28",
            "1:20",
            "00",
            "0755",
            "9e",
            "d0d513193fd54838bcfe28f6cfd86325",
        ];
        const KEYS: &[&str] = &[
            "name", "status", "k_1", "_x", "run_id", "tags", "user_id", "end_time", "a b", "on",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let mut taken = 0;
        for _ in 0..3000 {
            let mut text = String::new();
            for _ in 0..1 + next(3) {
                let key = KEYS[next(KEYS.len())];
                let value = VALUES[next(VALUES.len())];
                let sep = [" ", "  ", ""][next(3)];
                text.push_str(&format!("{key}:{sep}{value}\n"));
            }
            if let Some(fast) = parse_flat(&text) {
                taken += 1;
                assert_eq!(Some(fast), full(&text), "{text:?}");
            }
        }
        assert!(taken > 200, "the fast reader took only {taken} documents");
    }

    #[test]
    fn corrupt_files_name_the_file() {
        let e = Meta::parse("name: [x", "run", Path::new("/s/1/meta.yaml")).unwrap_err();
        assert!(e.to_string().contains("/s/1/meta.yaml"), "{e}");
        assert!(Meta::parse("", "run", Path::new("m")).is_err());
        assert!(Meta::parse("- a\n- b\n", "run", Path::new("m")).is_err());
        // The same typed error as before the fast reader: the parser's, naming the file.
        for text in [
            "run_id: [broken",
            "status: 3\n  x: [\n",
            "a: 'open\n",
            "a: 1\na: 2\n",
        ] {
            if let Some(m) = full(text) {
                // Duplicate keys may be accepted by the parser; then the fast reader agrees.
                assert_eq!(Meta::parse(text, "run", Path::new("m")).unwrap().0, m);
                continue;
            }
            let e = Meta::parse(text, "run", Path::new("/s/1/meta.yaml")).unwrap_err();
            assert!(
                matches!(&e, TrackingError::Corrupt { kind: "run", path, .. } if path == Path::new("/s/1/meta.yaml")),
                "{e:?}"
            );
        }
        // Fields missing from a well-formed file are reported by the run reader.
        let m = Meta::parse("run_id: abc\nexperiment_id: '1'\n", "run", Path::new("m")).unwrap();
        let e = crate::runs::run_info_from_meta(&m, Path::new("/s/1/abc")).unwrap_err();
        assert!(e.to_string().contains("status"), "{e}");
        let m = Meta::parse("run_id: abc\nstatus: 3\n", "run", Path::new("m")).unwrap();
        let e = crate::runs::run_info_from_meta(&m, Path::new("/s/1/abc")).unwrap_err();
        assert!(e.to_string().contains("experiment_id"), "{e}");
    }
}
