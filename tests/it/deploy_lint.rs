//! The deployment files pass the linters and validators their ecosystems use: hadolint for the Dockerfiles,
//! the compose spec and GitHub workflow schemas, and kustomize + kubernetes-validate for every k8s overlay.

use crate::common;

use std::process::Command;

use common::{root, run_ok, venv_tool};

#[test]
fn dockerfiles_pass_hadolint() {
    let bundle_dockerfile = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(bundle_dockerfile.path(), homeml_bundle_dockerfile()).unwrap();
    for file in [
        root().join("Dockerfile"),
        bundle_dockerfile.path().to_path_buf(),
    ] {
        let out = run_ok(Command::new(venv_tool("hadolint")).arg(&file));
        assert!(
            out.trim().is_empty(),
            "hadolint on {}:\n{out}",
            file.display()
        );
    }
}

/// The Dockerfile `homeml build` writes, taken from a real bundle.
fn homeml_bundle_dockerfile() -> String {
    let tmp = tempfile::tempdir().unwrap();
    let model = tmp.path().join("m");
    std::fs::create_dir_all(&model).unwrap();
    std::fs::write(
        model.join("MLmodel"),
        "flavors:\n  onnx:\n    data: model.onnx\n",
    )
    .unwrap();
    let out = tmp.path().join("bundle");
    run_ok(
        Command::new(env!("CARGO_BIN_EXE_homeml"))
            .args(["build", "--name", "lint", "-m"])
            .arg(&model)
            .arg("-o")
            .arg(&out)
            .arg("--tracking-uri")
            .arg(tmp.path().join("mlruns")),
    );
    std::fs::read_to_string(out.join("Dockerfile")).unwrap()
}

#[test]
fn compose_file_matches_the_compose_spec() {
    run_ok(
        Command::new(venv_tool("check-jsonschema"))
            .args(["--builtin-schema", "vendor.compose-spec"])
            .arg(root().join("deploy/docker-compose.yaml")),
    );
}

#[test]
fn workflows_match_the_github_schema() {
    let dir = root().join(".github/workflows");
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        run_ok(
            Command::new(venv_tool("check-jsonschema"))
                .args(["--builtin-schema", "vendor.github-workflows"])
                .arg(&path),
        );
        n += 1;
    }
    assert!(n > 0, "no workflow in {}", dir.display());
}

#[test]
fn every_k8s_overlay_renders_and_validates() {
    let overlays = root().join("deploy/k8s/overlays");
    let mut n = 0;
    for entry in std::fs::read_dir(&overlays).unwrap() {
        let overlay = entry.unwrap().path();
        let rendered = run_ok(
            Command::new(venv_tool("kubectl"))
                .arg("kustomize")
                .arg(&overlay),
        );
        for kind in [
            "kind: Deployment",
            "kind: Service",
            "kind: HorizontalPodAutoscaler",
            "kind: PodDisruptionBudget",
            "kind: Ingress",
            "kind: ConfigMap",
        ] {
            assert!(
                rendered.contains(kind),
                "{} lacks {kind}",
                overlay.display()
            );
        }
        let file = tempfile::Builder::new().suffix(".yaml").tempfile().unwrap();
        std::fs::write(file.path(), &rendered).unwrap();
        run_ok(
            Command::new(venv_tool("kubernetes-validate"))
                .arg("--strict")
                .arg(file.path()),
        );
        n += 1;
    }
    assert!(n >= 2, "expected dev and prod overlays");
}
