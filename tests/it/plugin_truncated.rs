//! `homeml serve --plugin-dir` with damaged libraries beside a good one (issue 22.2): the example
//! plugin cut to 1,000, 5,000 and 100,000 bytes, and files of garbage, are refused with a log line
//! naming each file; the server starts and serves the good plugin's model. Before the ELF check, the
//! dynamic loader mapped the truncated copies past their end and the process died of SIGBUS.

use crate::support;

use crate::common;

use common::Proc;

#[test]
fn truncated_and_garbage_plugins_are_refused_and_the_server_serves() {
    let a = support::artifacts();
    let tmp = tempfile::tempdir().unwrap();
    let plugins = tmp.path().join("plugins");
    std::fs::create_dir(&plugins).unwrap();
    let good = std::fs::read(&a.example).unwrap();
    let mut bad = Vec::new();
    for cut in [1_000usize, 5_000, 100_000] {
        assert!(
            good.len() > cut,
            "the example plugin is only {} bytes",
            good.len()
        );
        let p = plugins.join(format!("libcut_{cut}.so"));
        std::fs::write(&p, &good[..cut]).unwrap();
        bad.push(p);
    }
    // The ELF header of the real library followed by noise, and pure noise.
    let mut noisy = good[..64].to_vec();
    noisy.extend((0..50_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let p = plugins.join("libnoisy_header.so");
    std::fs::write(&p, &noisy).unwrap();
    bad.push(p);
    let p = plugins.join("libgarbage.so");
    std::fs::write(&p, &noisy[64..]).unwrap();
    bad.push(p);
    support::install(&a.example, &plugins, "libzz_centroid");

    let model = tmp.path().join("centroid");
    std::fs::create_dir(&model).unwrap();
    std::fs::write(
        model.join("centroids.json"),
        r#"{"classes": [0, 1], "centroids": [[0.0, 0.0], [10.0, 10.0]]}"#,
    )
    .unwrap();
    let mut mlmodel = homeml_flavor::MlModel::default();
    mlmodel.add_flavor(
        "nearest_centroid",
        serde_json::json!({"data": "centroids.json"}),
    );
    mlmodel.write_dir(&model).unwrap();

    let server = Proc::start(
        &[
            "serve",
            "-m",
            model.to_str().unwrap(),
            "-p",
            "0",
            "--plugin-dir",
            plugins.to_str().unwrap(),
        ],
        &[("RUST_LOG", "info")],
        tmp.path().join("serve.log"),
    );
    let (status, body) = common::post(
        &server.addr,
        "/invocations",
        r#"{"inputs": [[9.0, 9.5], [0.5, -1.0]]}"#,
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("[1,0]"), "{body}");
    let logs = server.logs();
    for p in &bad {
        let line = logs
            .lines()
            .find(|l| l.contains("plugin refused") && l.contains(&*p.display().to_string()))
            .unwrap_or_else(|| panic!("no refusal naming {} in:\n{logs}", p.display()));
        assert!(line.contains("not a valid shared library"), "{line}");
    }
    let cut_line = logs
        .lines()
        .find(|l| l.contains("libcut_100000"))
        .unwrap_or_default();
    assert!(cut_line.contains("truncated"), "{cut_line}");
}
