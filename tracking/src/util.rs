//! Small helpers: clocks, ids, number formatting, the user and git facts MLflow records.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A random 32-hex-digit id (a UUID4 without dashes), as MLflow uses for runs.
pub fn hex_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// A random 18-digit experiment id without a leading zero, as MLflow 2.x/3.x makes them.
pub fn experiment_id() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    let mut s = format!("{:018}", n % 1_000_000_000_000_000_000);
    if s.starts_with('0') {
        s.replace_range(0..1, &(1 + (n >> 100) % 9).to_string());
    }
    s
}

/// A float as Python's `repr` writes it (`1.0`, `0.5`, `nan`, `inf`, `-inf`); Python's `float()` reads
/// every form written here.
pub fn py_float(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > 0.0 {
            "inf".into()
        } else {
            "-inf".into()
        }
    } else {
        format!("{v:?}")
    }
}

/// Parses a float as Python's `float()` does for the forms MLflow writes.
pub fn parse_py_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().as_str() {
        "nan" | "+nan" | "-nan" => Some(f64::NAN),
        "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
        "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        _ => s.parse::<f64>().ok(),
    }
}

/// `YYYY-MM-DD HH:MM:SS.ffffff` in UTC, as MLflow's `utc_time_created`.
pub fn utc_time_created() -> String {
    homeml_flavor::save::utc_now_string()
}

/// Milliseconds since the epoch as `YYYY-MM-DD HH:MM:SS` UTC.
pub fn format_ms(ms: i64) -> String {
    let mut s = homeml_flavor::save::format_utc_micros(ms.saturating_mul(1000));
    s.truncate(19);
    s
}

/// The user name MLflow records (`mlflow.user`), from the environment as `getpass.getuser()` does.
pub fn user_name() -> String {
    for var in ["LOGNAME", "USER", "LNAME", "USERNAME"] {
        if let Ok(v) = std::env::var(var) {
            if !v.is_empty() {
                return v;
            }
        }
    }
    "unknown".into()
}

/// The program's name as MLflow records it in `mlflow.source.name` (argv\[0\]).
pub fn source_name() -> String {
    std::env::args().next().unwrap_or_default()
}

/// The commit of the git work tree holding the current directory, if any.
pub fn git_commit() -> Option<String> {
    let cwd = std::env::current_dir().ok()?;
    let mut dir: Option<&Path> = Some(&cwd);
    while let Some(d) = dir {
        let dotgit = d.join(".git");
        if dotgit.is_dir() {
            return head_commit(&dotgit);
        }
        if dotgit.is_file() {
            let text = std::fs::read_to_string(&dotgit).ok()?;
            let gitdir = text.strip_prefix("gitdir:")?.trim();
            let gitdir = d.join(gitdir);
            return head_commit(&gitdir);
        }
        dir = d.parent();
    }
    None
}

fn head_commit(gitdir: &Path) -> Option<String> {
    let head = std::fs::read_to_string(gitdir.join("HEAD")).ok()?;
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref:") else {
        return is_sha(head).then(|| head.to_string());
    };
    let reference = reference.trim();
    // Worktrees keep shared refs in the common dir.
    let common: PathBuf = std::fs::read_to_string(gitdir.join("commondir"))
        .map(|c| gitdir.join(c.trim()))
        .unwrap_or_else(|_| gitdir.to_path_buf());
    for base in [gitdir, common.as_path()] {
        if let Ok(sha) = std::fs::read_to_string(base.join(reference)) {
            let sha = sha.trim();
            if is_sha(sha) {
                return Some(sha.to_string());
            }
        }
        if let Ok(packed) = std::fs::read_to_string(base.join("packed-refs")) {
            for line in packed.lines() {
                if let Some((sha, name)) = line.split_once(' ') {
                    if name == reference && is_sha(sha) {
                        return Some(sha.to_string());
                    }
                }
            }
        }
    }
    None
}

fn is_sha(s: &str) -> bool {
    (s.len() == 40 || s.len() == 64) && s.chars().all(|c| c.is_ascii_hexdigit())
}

const ADJECTIVES: &[&str] = &[
    "able", "bold", "brave", "bright", "calm", "clever", "crisp", "eager", "fair", "gentle",
    "glad", "grand", "happy", "keen", "kind", "lively", "merry", "neat", "nimble", "proud",
    "quick", "quiet", "rare", "sharp", "shy", "smart", "swift", "tidy", "vast", "warm", "wise",
    "zesty",
];
const NOUNS: &[&str] = &[
    "ant", "bass", "bear", "bird", "calf", "cat", "crab", "deer", "dove", "eel", "elk", "fox",
    "frog", "goat", "hare", "hawk", "lark", "lion", "lynx", "mole", "moth", "newt", "owl", "ram",
    "seal", "slug", "swan", "toad", "vole", "wasp", "wolf", "yak",
];

/// A random run name like MLflow's (`adjective-animal-123`).
pub fn run_name() -> String {
    let n = uuid::Uuid::new_v4().as_u128();
    format!(
        "{}-{}-{}",
        ADJECTIVES[(n % ADJECTIVES.len() as u128) as usize],
        NOUNS[((n >> 16) % NOUNS.len() as u128) as usize],
        (n >> 32) % 1000
    )
}

/// A `file://` URI for an absolute path.
pub fn file_uri(path: &Path) -> String {
    let s = path.to_string_lossy();
    let mut out = String::with_capacity(s.len() + 7);
    out.push_str("file://");
    for c in s.chars() {
        match c {
            ' ' => out.push_str("%20"),
            '%' => out.push_str("%25"),
            '#' => out.push_str("%23"),
            '?' => out.push_str("%3F"),
            c => out.push(c),
        }
    }
    out
}

/// The local path of a `file:` URI (`file:///abs`, `file:/abs`, `file://localhost/abs`), or a plain path.
pub fn uri_to_path(uri: &str) -> Option<PathBuf> {
    if let Some(rest) = uri.strip_prefix("file:") {
        let rest = if let Some(r) = rest.strip_prefix("//") {
            // Authority: empty or localhost.
            let (auth, path) = match r.find('/') {
                Some(i) => r.split_at(i),
                None => (r, ""),
            };
            if !(auth.is_empty() || auth == "localhost") {
                return None;
            }
            path
        } else {
            rest
        };
        Some(PathBuf::from(percent_decode(rest)))
    } else if uri.contains("://") {
        None
    } else {
        Some(PathBuf::from(uri))
    }
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
            if let Some(b) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_python() {
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(0.5), "0.5");
        assert_eq!(py_float(1.0 / 3.0), "0.3333333333333333");
        assert_eq!(py_float(f64::NAN), "nan");
        assert_eq!(py_float(f64::NEG_INFINITY), "-inf");
        for s in ["1e-07", "1e+16", "nan", "NaN", "-inf", "Infinity", "3"] {
            assert!(parse_py_float(s).is_some(), "{s}");
        }
        assert_eq!(parse_py_float(&py_float(1e-7)), Some(1e-7));
    }

    #[test]
    fn dates() {
        assert_eq!(format_ms(0), "1970-01-01 00:00:00");
        assert_eq!(format_ms(1_795_880_702_196), "2026-11-28 15:45:02");
        assert_eq!(utc_time_created().len(), 26);
    }

    #[test]
    fn ids() {
        for _ in 0..100 {
            let e = experiment_id();
            assert_eq!(e.len(), 18, "{e}");
            assert!(!e.starts_with('0'));
        }
        assert_eq!(hex_id().len(), 32);
        assert_eq!(run_name().split('-').count(), 3);
    }

    #[test]
    fn file_uris() {
        let p = Path::new("/tmp/a b/c");
        assert_eq!(file_uri(p), "file:///tmp/a%20b/c");
        assert_eq!(uri_to_path(&file_uri(p)).unwrap(), p);
        assert_eq!(uri_to_path("file:/x/y").unwrap(), Path::new("/x/y"));
        assert_eq!(uri_to_path("rel/dir").unwrap(), Path::new("rel/dir"));
        assert!(uri_to_path("s3://bucket/x").is_none());
        assert!(uri_to_path("file://host/x").is_none());
    }
}
