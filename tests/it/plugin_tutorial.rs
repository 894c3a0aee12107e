//! flavors/README.md's tutorial, followed as written: `cargo new --lib my-flavor`, the README's
//! Cargo.toml lines and `src/lib.rs`, `cargo build --release`, the README's `MLmodel`, then its
//! `homeml flavors list` and `homeml serve` commands and its curl call. The code and files come from the
//! README itself, so the guide cannot drift from what works.
//!
//! Two departures, both forced by the test's setting: the `homeml-flavor` path points at this checkout, and
//! the build is `--offline` with this workspace's Cargo.lock (tests reach no network; every crate the
//! plugin needs is one the workspace already built). Its target directory is `target/plugin-tutorial`.

use crate::common;

use std::process::Command;

use common::{post, Proc};

/// A fenced code block of the tutorial: its language and its text, list indentation removed.
struct Block {
    lang: String,
    text: String,
}

/// The fenced blocks of the README's "Tutorial" section, in order.
fn tutorial_blocks() -> Vec<Block> {
    let readme = std::fs::read_to_string(common::root().join("flavors/README.md")).unwrap();
    let start = readme
        .find("## Tutorial")
        .expect("flavors/README.md has a Tutorial section");
    let section = &readme[start..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |e| e + 3)];
    let mut blocks = Vec::new();
    let mut open: Option<(String, usize, Vec<String>)> = None;
    for line in section.lines() {
        let trimmed = line.trim_start();
        match open.as_mut() {
            None if trimmed.starts_with("```") => {
                let indent = line.len() - trimmed.len();
                open = Some((trimmed[3..].trim().to_string(), indent, Vec::new()));
            }
            None => {}
            Some(_) if trimmed.starts_with("```") => {
                let (lang, _, lines) = open.take().unwrap();
                blocks.push(Block {
                    lang,
                    text: lines.join("\n") + "\n",
                });
            }
            Some((_, indent, lines)) => {
                let cut = line.len().min(*indent);
                assert!(
                    line[..cut].trim().is_empty(),
                    "unindented line in a block: {line:?}"
                );
                lines.push(line[cut..].to_string());
            }
        }
    }
    assert!(open.is_none(), "unclosed code block in the tutorial");
    blocks
}

/// The one block of `lang` whose text contains `marker`.
fn block<'a>(blocks: &'a [Block], lang: &str, marker: &str) -> &'a str {
    let found: Vec<&Block> = blocks
        .iter()
        .filter(|b| b.lang == lang && b.text.contains(marker))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one ```{lang} block containing {marker:?} in the tutorial"
    );
    &found[0].text
}

fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}

/// The text between the first `open` and the next `close` after it.
fn between<'a>(s: &'a str, open: &str, close: &str) -> &'a str {
    let from = s
        .find(open)
        .unwrap_or_else(|| panic!("no {open:?} in {s:?}"))
        + open.len();
    let to = s[from..]
        .find(close)
        .unwrap_or_else(|| panic!("no {close:?} after {open:?} in {s:?}"));
    &s[from..from + to]
}

#[test]
fn the_plugin_tutorial_works_as_written() {
    let blocks = tutorial_blocks();
    let tmp = tempfile::tempdir().unwrap();
    let work = tmp.path();

    // 1. The crate.
    let new = block(&blocks, "sh", "cargo new");
    assert!(new.starts_with("cargo new --lib my-flavor"), "{new}");
    common::run_ok(
        cargo()
            .current_dir(work)
            .args(["new", "--lib", "--vcs", "none", "my-flavor"]),
    );
    let krate = work.join("my-flavor");
    let manifest = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    // `cargo new` ends the manifest with an empty [dependencies] table; the README's lines bring theirs.
    let manifest = manifest
        .trim_end()
        .strip_suffix("[dependencies]")
        .unwrap_or_else(|| panic!("cargo new's Cargo.toml changed:\n{manifest}"))
        .to_string();
    let readme_toml = block(&blocks, "toml", "[lib]");
    let api = common::root().join("flavors/api");
    assert!(
        readme_toml.contains("\"../homeml/flavors/api\""),
        "{readme_toml}"
    );
    let readme_toml = readme_toml.replace(
        "\"../homeml/flavors/api\"",
        &format!("{:?}", api.display().to_string()),
    );
    std::fs::write(krate.join("Cargo.toml"), manifest + &readme_toml).unwrap();

    // 2. The code.
    let lib = block(&blocks, "rust", "export_flavor!");
    std::fs::write(krate.join("src/lib.rs"), lib).unwrap();

    // 3. The build.
    std::fs::copy(common::root().join("Cargo.lock"), krate.join("Cargo.lock")).unwrap();
    let target = common::root().join("target/plugin-tutorial");
    common::run_ok(
        cargo()
            .current_dir(&krate)
            .args(["build", "--release", "--offline", "-q"])
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("RUSTFLAGS"),
    );
    let so = target.join("release/libmy_flavor.so");
    assert!(so.is_file(), "{} was not built", so.display());

    // 4. The model directory, with the README's MLmodel, where step 5's `-m ./model` finds it.
    let mlmodel = block(&blocks, "yaml", "flavors:");
    assert!(mlmodel.starts_with("# model/MLmodel"), "{mlmodel}");
    std::fs::create_dir(krate.join("model")).unwrap();
    std::fs::write(krate.join("model/MLmodel"), mlmodel).unwrap();

    // 5. The README's commands, in the README's working directory (the plugin crate).
    let commands = block(&blocks, "sh", "homeml serve");
    let lines: Vec<&str> = commands.lines().collect();
    assert!(
        lines[0].starts_with("mkdir -p plugins && cp target/release/libmy_flavor.so plugins/"),
        "{commands}"
    );
    std::fs::create_dir(krate.join("plugins")).unwrap();
    std::fs::copy(&so, krate.join("plugins/libmy_flavor.so")).unwrap();

    let list_line = lines
        .iter()
        .find(|l| l.starts_with("homeml flavors list"))
        .expect("a `homeml flavors list` line");
    let args = list_line.split('#').next().unwrap();
    let out = common::run_ok(
        Command::new(env!("CARGO_BIN_EXE_homeml"))
            .current_dir(&krate)
            .args(args.split_whitespace().skip(1))
            .env_remove("HOMEML_PLUGIN_DIR"),
    );
    // What the README's comment says the list shows.
    let promised = between(list_line, "`", "`");
    let words: Vec<&str> = promised.split_whitespace().collect();
    assert!(
        out.lines().any(|l| words.iter().all(|w| l.contains(w))),
        "`{}` does not show {promised:?}:\n{out}",
        args.trim()
    );

    let serve_line = lines
        .iter()
        .find(|l| l.starts_with("homeml serve"))
        .expect("a `homeml serve` line");
    let serve_args: Vec<&str> = serve_line
        .split('#')
        .next()
        .unwrap()
        .split_whitespace()
        .skip(1)
        .collect();
    // The README's command on the default address would clash with other tests: same command, port 0.
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_homeml"));
    cmd.current_dir(&krate)
        .args(&serve_args)
        .args(["-h", "127.0.0.1", "-p", "0"])
        .env_remove("HOMEML_PLUGIN_DIR");
    let server = Proc::spawn(cmd, work.join("serve.log"));

    let curl = lines
        .iter()
        .find(|l| l.starts_with("curl"))
        .expect("a curl line");
    let url = between(curl, "localhost:", " ");
    let (port, path) = url.split_once('/').unwrap();
    assert_eq!(
        port.parse::<u16>().unwrap(),
        homeml_server::ServerConfig::default().port,
        "the curl line must use the port `homeml serve` listens on by default"
    );
    let body = between(curl, "-d '", "'");
    let (status, answer) = post(&server.addr, &format!("/{path}"), body);
    assert_eq!(status, 200, "{answer}");
    let answer: serde_json::Value = serde_json::from_str(&answer).unwrap();
    // The answer the README shows, which is its input times the MLmodel's `factor`.
    let promised = lines
        .iter()
        .find_map(|l| l.strip_prefix("# -> "))
        .expect("a `# -> ` line with the answer");
    let promised: serde_json::Value =
        serde_json::from_str(promised.split("   (").next().unwrap().trim()).unwrap();
    assert_eq!(answer, promised, "the README promises {promised}");
    let factor: f64 = between(mlmodel, "factor:", "\n").trim().parse().unwrap();
    let sent: serde_json::Value = serde_json::from_str(body).unwrap();
    let scaled: Vec<f64> = sent["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() * factor)
        })
        .collect();
    assert_eq!(
        promised["predictions"],
        serde_json::json!(scaled),
        "the README's arithmetic"
    );
}
