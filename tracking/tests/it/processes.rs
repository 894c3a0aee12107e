//! Several processes on one store: no metric line is lost, no version number is handed out twice, and
//! a writer killed with SIGKILL never leaves a torn meta.yaml.
//!
//! The child processes are this test binary itself, re-invoked with `--exact <child test>` and an
//! environment variable that turns the (otherwise no-op) child tests on.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::{Command, Stdio};

use homeml_flavor::MlModel;
use homeml_tracking::{Metric, RunOptions, Store};

const CHILD_ENV: &str = "HOMEML_TRACKING_TEST_CHILD";
const CHILDREN: usize = 4;
const SINGLE: usize = 150;
const BATCH: usize = 100;
const VERSIONS: u64 = 5;

fn spawn_child(test: &str, args: &str) -> std::process::Child {
    // Test names in the `it` binary carry this module's path.
    let name = format!("processes::{test}");
    Command::new(std::env::current_exe().unwrap())
        .args([name.as_str(), "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, args)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap()
}

/// Child: logs to one run and registers versions. Args: `<root>|<run_id>|<child index>`.
#[test]
fn child_logger() {
    let Ok(args) = std::env::var(CHILD_ENV) else {
        return;
    };
    let parts: Vec<&str> = args.split('|').collect();
    let (root, run_id, idx) = (parts[0], parts[1], parts[2]);
    let store = Store::open(root).unwrap();
    for i in 0..SINGLE {
        store
            .log_metric(run_id, "shared", i as f64, i as i64, None)
            .unwrap();
        store
            .log_metric(run_id, &format!("child{idx}"), i as f64, i as i64, None)
            .unwrap();
    }
    let batch: Vec<Metric> = (0..BATCH)
        .map(|i| Metric::new("shared", 1000.0 + i as f64, i as i64))
        .collect();
    let mut params = BTreeMap::new();
    params.insert(format!("p{idx}"), idx.to_string());
    params.insert("same".to_string(), "v".to_string());
    store
        .log_batch(run_id, &batch, &params, &BTreeMap::new())
        .unwrap();
    let model = Path::new(root).join("..").join("model");
    for _ in 0..VERSIONS {
        store
            .create_model_version("shared-model", model.to_str().unwrap())
            .unwrap();
    }
}

#[test]
fn processes_lose_no_metric_line_and_share_no_version() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("mlruns");
    let store = Store::open(root.to_str().unwrap()).unwrap();
    let model = d.path().join("model");
    std::fs::create_dir_all(&model).unwrap();
    let mut m = MlModel::default();
    m.add_flavor("onnx", serde_json::json!({"data": "model.onnx"}));
    m.write_dir(&model).unwrap();
    store.create_registered_model("shared-model").unwrap();
    let run = store.start_run("0", RunOptions::default()).unwrap();

    let children: Vec<_> = (0..CHILDREN)
        .map(|i| {
            spawn_child(
                "child_logger",
                &format!("{}|{}|{i}", root.display(), run.id()),
            )
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success(), "a child failed");
    }

    let shared = store.get_metric_history(run.id(), "shared").unwrap();
    assert_eq!(shared.len(), CHILDREN * (SINGLE + BATCH));
    // Every value of every child is there, each once per child.
    let mut counts: BTreeMap<i64, usize> = BTreeMap::new();
    for m in &shared {
        *counts.entry(m.value as i64).or_default() += 1;
    }
    for i in 0..SINGLE {
        assert_eq!(counts[&(i as i64)], CHILDREN, "value {i}");
    }
    for i in 0..BATCH {
        assert_eq!(counts[&(1000 + i as i64)], CHILDREN, "value {}", 1000 + i);
    }
    for i in 0..CHILDREN {
        let h = store
            .get_metric_history(run.id(), &format!("child{i}"))
            .unwrap();
        assert_eq!(h.len(), SINGLE);
    }
    let r = store.get_run(run.id()).unwrap();
    assert_eq!(r.data.params.len(), CHILDREN + 1);

    let versions: BTreeSet<u64> = store
        .search_model_versions(Some("shared-model"))
        .unwrap()
        .into_iter()
        .map(|v| v.version)
        .collect();
    let expected: BTreeSet<u64> = (1..=CHILDREN as u64 * VERSIONS).collect();
    assert_eq!(versions, expected);
}

/// Child: rewrites a large meta.yaml forever. Args: `<root>`.
#[test]
fn child_rewriter() {
    let Ok(root) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = Store::open(&root).unwrap();
    let mut i = 0u64;
    loop {
        let text = format!("{i:08}-").repeat(200_000);
        store
            .set_registered_model_description("big", Some(&text))
            .unwrap();
        i += 1;
    }
}

#[test]
fn sigkill_mid_write_leaves_no_torn_meta() {
    if std::env::var(CHILD_ENV).is_ok() {
        return;
    }
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("mlruns");
    let store = Store::open(root.to_str().unwrap()).unwrap();
    store.create_registered_model("big").unwrap();
    let meta = root.join("models/big/meta.yaml");
    for round in 0..3 {
        let mut child = spawn_child("child_rewriter", root.to_str().unwrap());
        // Read while the child writes: every read sees a whole file.
        let mut whole_reads = 0;
        let mut rewritten = 0;
        while rewritten < 3 + round {
            let m = store.get_registered_model("big").unwrap();
            if let Some(desc) = m.description {
                assert_eq!(desc.len(), 9 * 200_000, "a reader saw a torn description");
                let first = &desc[..9];
                assert!(desc.as_bytes().chunks(9).all(|c| c == first.as_bytes()));
                rewritten = first[..8].parse::<u64>().unwrap() + 1;
            }
            whole_reads += 1;
        }
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        assert!(whole_reads > 0);
        // After the kill the file is whole and parses.
        let text = std::fs::read_to_string(&meta).unwrap();
        assert!(text.contains("name: big"), "torn meta.yaml after SIGKILL");
        let m = store.get_registered_model("big").unwrap();
        assert_eq!(m.description.unwrap().len(), 9 * 200_000);
    }
}
