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

/// What MLflow records about the git work tree a run starts in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitInfo {
    /// The commit HEAD points at (`mlflow.source.git.commit`).
    pub commit: String,
    /// The checked-out branch (`mlflow.source.git.branch`); `None` on a detached HEAD, as MLflow
    /// (GitPython's `active_branch`) has no branch then.
    pub branch: Option<String>,
    /// The URL of the repository's first remote with credentials removed
    /// (`mlflow.source.git.repoURL`); `None` without a remote.
    pub repo_url: Option<String>,
}

/// The commit of the git work tree holding the current directory, if any.
pub fn git_commit() -> Option<String> {
    git_info().map(|g| g.commit)
}

/// The git facts of the work tree holding the current directory; `None` outside a work tree or
/// when HEAD names no commit yet (MLflow then records no git tag at all).
pub fn git_info() -> Option<GitInfo> {
    git_info_at(&std::env::current_dir().ok()?)
}

/// The git facts of the work tree holding `start` (a folder). Reads `.git` (a folder, or the
/// `gitdir:` file of a linked worktree or submodule), `HEAD`, the ref it names (loose or packed,
/// in the worktree's or the common git dir) and the common dir's `config`; runs no `git` process.
pub fn git_info_at(start: &Path) -> Option<GitInfo> {
    let mut dir: Option<&Path> = Some(start);
    while let Some(d) = dir {
        let dotgit = d.join(".git");
        if dotgit.is_dir() {
            return info_from_gitdir(&dotgit);
        }
        if dotgit.is_file() {
            let text = std::fs::read_to_string(&dotgit).ok()?;
            let gitdir = text.strip_prefix("gitdir:")?.trim();
            let gitdir = d.join(gitdir);
            return info_from_gitdir(&gitdir);
        }
        dir = d.parent();
    }
    None
}

fn info_from_gitdir(gitdir: &Path) -> Option<GitInfo> {
    let head = std::fs::read_to_string(gitdir.join("HEAD")).ok()?;
    let head = head.trim();
    // Worktrees keep shared refs and the config in the common dir.
    let common: PathBuf = std::fs::read_to_string(gitdir.join("commondir"))
        .map(|c| gitdir.join(c.trim()))
        .unwrap_or_else(|_| gitdir.to_path_buf());
    let (commit, branch) = match head.strip_prefix("ref:") {
        None => (is_sha(head).then(|| head.to_string())?, None),
        Some(reference) => {
            let reference = reference.trim();
            let commit = resolve_ref(gitdir, &common, reference)?;
            let branch = reference
                .strip_prefix("refs/heads/")
                .filter(|b| !b.is_empty())
                .map(str::to_string);
            (commit, branch)
        }
    };
    Some(GitInfo {
        commit,
        branch,
        repo_url: first_remote_url(&common.join("config")),
    })
}

fn resolve_ref(gitdir: &Path, common: &Path, reference: &str) -> Option<String> {
    for base in [gitdir, common] {
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

/// The `url` of the first `[remote "..."]` section of a git config file, as GitPython's
/// `repo.remotes[0].url` (MLflow's choice), with credentials removed.
fn first_remote_url(config: &Path) -> Option<String> {
    let text = std::fs::read_to_string(config).ok()?;
    let mut in_remote = false;
    let mut seen_remote = false;
    for line in text.lines() {
        let line = line.trim();
        if let Some(header) = line.strip_prefix('[') {
            if seen_remote && in_remote {
                // The first remote had no url.
                return None;
            }
            let header = header.split(']').next().unwrap_or("").trim();
            let (section, sub) = header
                .split_once(char::is_whitespace)
                .unwrap_or((header, ""));
            in_remote = section.eq_ignore_ascii_case("remote") && sub.trim().starts_with('"');
            seen_remote |= in_remote;
            continue;
        }
        if !in_remote {
            continue;
        }
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        if key.trim().eq_ignore_ascii_case("url") {
            let url = git_config_value(value);
            return (!url.is_empty()).then(|| strip_url_credentials(&url));
        }
    }
    None
}

/// A git config value: quotes removed, `\"`, `\\`, `\n`, `\t` unescaped, a `#`/`;` comment cut.
fn git_config_value(raw: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = raw.trim().chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some(other) => out.push(other),
                None => {}
            },
            '#' | ';' if !quoted => break,
            c => out.push(c),
        }
    }
    out.trim_end().to_string()
}

/// Removes `user:password@` from a `scheme://` URL, as MLflow does before recording it; SSH-style
/// remotes (`git@host:org/repo.git`) and URLs without credentials are kept as they are.
pub fn strip_url_credentials(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let valid_scheme = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !valid_scheme {
        return url.to_string();
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (netloc, tail) = rest.split_at(end);
    match netloc.rsplit_once('@') {
        Some((_, host)) => format!("{scheme}://{host}{tail}"),
        None => url.to_string(),
    }
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
    } else if uri.contains("://") || has_scheme(uri) {
        None
    } else {
        Some(PathBuf::from(uri))
    }
}

/// Whether `uri` starts with a URI scheme of two or more characters (`mlflow-artifacts:/1`, `s3:`);
/// one letter is a Windows drive, not a scheme.
fn has_scheme(uri: &str) -> bool {
    match uri.split_once(':') {
        Some((scheme, _)) => {
            scheme.len() >= 2
                && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
                && scheme
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        }
        None => false,
    }
}

/// `%XX`-decoding (URIs' paths, users and passwords, artifact paths): a `%` not followed by two hex
/// digits stays as it is; bytes that do not form UTF-8 become U+FFFD.
pub(crate) fn percent_decode(s: &str) -> String {
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

    /// A fake `.git` folder: HEAD, loose refs, packed refs, config.
    fn fake_git(dir: &Path, head: &str, refs: &[(&str, &str)], packed: &str, config: &str) {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join("HEAD"), head).unwrap();
        for (name, sha) in refs {
            let p = dir.join(name);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, format!("{sha}\n")).unwrap();
        }
        if !packed.is_empty() {
            std::fs::write(dir.join("packed-refs"), packed).unwrap();
        }
        std::fs::write(dir.join("config"), config).unwrap();
    }

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
    const SHA2: &str = "89abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn git_branch_commit_and_remote() {
        let d = tempfile::tempdir().unwrap();
        let config = "[core]\n\trepositoryformatversion = 0\n[remote \"origin\"]\n\
                      \turl = https://user:secret@example.com/team/repo.git ; a comment\n\
                      \tfetch = +refs/heads/*:refs/remotes/origin/*\n[remote \"backup\"]\n\
                      \turl = /srv/backup.git\n";
        fake_git(
            &d.path().join(".git"),
            "ref: refs/heads/feature/x\n",
            &[("refs/heads/feature/x", SHA)],
            "",
            config,
        );
        let sub = d.path().join("src/deep");
        std::fs::create_dir_all(&sub).unwrap();
        let info = git_info_at(&sub).unwrap();
        assert_eq!(info.commit, SHA);
        assert_eq!(info.branch.as_deref(), Some("feature/x"));
        assert_eq!(
            info.repo_url.as_deref(),
            Some("https://example.com/team/repo.git")
        );

        // Detached HEAD: a commit, no branch.
        std::fs::write(d.path().join(".git/HEAD"), format!("{SHA2}\n")).unwrap();
        let info = git_info_at(&sub).unwrap();
        assert_eq!((info.commit.as_str(), info.branch), (SHA2, None));

        // A packed branch; no remote at all.
        let d2 = tempfile::tempdir().unwrap();
        let packed =
            format!("# pack-refs with: peeled fully-peeled sorted\n{SHA} refs/heads/main\n");
        fake_git(
            &d2.path().join(".git"),
            "ref: refs/heads/main",
            &[],
            &packed,
            "[core]\n",
        );
        let info = git_info_at(d2.path()).unwrap();
        assert_eq!(info.commit, SHA);
        assert_eq!(info.branch.as_deref(), Some("main"));
        assert_eq!(info.repo_url, None);

        // An unborn branch (no commit yet): no git facts, as MLflow records none.
        std::fs::write(d2.path().join(".git/HEAD"), "ref: refs/heads/new\n").unwrap();
        assert_eq!(git_info_at(d2.path()), None);
        // Outside any work tree (when the temporary folder is not inside one).
        let d3 = tempfile::tempdir().unwrap();
        if !d3.path().ancestors().any(|a| a.join(".git").exists()) {
            assert_eq!(git_info_at(d3.path()), None);
        }
    }

    #[test]
    fn git_linked_worktree() {
        // `git worktree add ../wt -b wt-branch`: the work tree's `.git` file points into the main
        // repository's `worktrees/wt`, whose `commondir` leads back to the shared refs and config.
        let d = tempfile::tempdir().unwrap();
        let main_git = d.path().join("repo/.git");
        let packed = format!("{SHA2} refs/heads/wt-branch\n");
        fake_git(
            &main_git,
            "ref: refs/heads/main\n",
            &[("refs/heads/main", SHA)],
            &packed,
            "[remote \"origin\"]\n\turl = git@github.com:org/repo.git\n",
        );
        let wt_git = main_git.join("worktrees/wt");
        std::fs::create_dir_all(&wt_git).unwrap();
        std::fs::write(wt_git.join("HEAD"), "ref: refs/heads/wt-branch\n").unwrap();
        std::fs::write(wt_git.join("commondir"), "../..\n").unwrap();
        let wt = d.path().join("wt");
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(wt.join(".git"), format!("gitdir: {}\n", wt_git.display())).unwrap();
        let info = git_info_at(&wt).unwrap();
        assert_eq!(info.commit, SHA2);
        assert_eq!(info.branch.as_deref(), Some("wt-branch"));
        assert_eq!(
            info.repo_url.as_deref(),
            Some("git@github.com:org/repo.git")
        );
        // The main work tree still reads its own branch.
        let info = git_info_at(&d.path().join("repo")).unwrap();
        assert_eq!(
            (info.commit.as_str(), info.branch.as_deref()),
            (SHA, Some("main"))
        );
    }

    #[test]
    fn git_facts_match_the_git_command() {
        let git = |dir: &Path, args: &[&str]| {
            std::process::Command::new("git")
                .args(args)
                .current_dir(dir)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("HOME", dir)
                .output()
        };
        let d = tempfile::tempdir().unwrap();
        let Ok(out) = git(d.path(), &["init", "-q", "-b", "topic/one"]) else {
            eprintln!("no git command; skipped");
            return;
        };
        assert!(out.status.success(), "{out:?}");
        std::fs::write(d.path().join("f"), "x").unwrap();
        for args in [
            &["add", "f"][..],
            &[
                "-c",
                "user.name=t",
                "-c",
                "user.email=t@e",
                "commit",
                "-q",
                "-m",
                "one",
            ],
            &["remote", "add", "origin", "https://tok@example.com/r.git"],
            &["pack-refs", "--all"],
        ] {
            let out = git(d.path(), args).unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
        }
        let head = git(d.path(), &["rev-parse", "HEAD"]).unwrap();
        let head = String::from_utf8_lossy(&head.stdout).trim().to_string();
        let info = git_info_at(d.path()).unwrap();
        assert_eq!(info.commit, head);
        assert_eq!(info.branch.as_deref(), Some("topic/one"));
        assert_eq!(info.repo_url.as_deref(), Some("https://example.com/r.git"));
        let out = git(d.path(), &["checkout", "-q", "--detach"]).unwrap();
        assert!(out.status.success(), "{out:?}");
        let info = git_info_at(d.path()).unwrap();
        assert_eq!((info.commit, info.branch), (head, None));
    }

    #[test]
    fn url_credentials_are_removed() {
        for (url, want) in [
            (
                "https://user:pw@host.com/a/b.git",
                "https://host.com/a/b.git",
            ),
            (
                "https://tok@host.com:8443/a?x=1",
                "https://host.com:8443/a?x=1",
            ),
            ("https://host.com/a@b", "https://host.com/a@b"),
            ("git@github.com:org/repo.git", "git@github.com:org/repo.git"),
            ("ssh://git@host/r.git", "ssh://host/r.git"),
            ("/srv/repo.git", "/srv/repo.git"),
        ] {
            assert_eq!(strip_url_credentials(url), want, "{url}");
        }
        assert_eq!(git_config_value(" \"a b\" # c"), "a b");
        assert_eq!(git_config_value("x\\\"y"), "x\"y");
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
