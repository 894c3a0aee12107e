//! The scaled-out deployment variants: the Kubernetes `object-store` and `production` overlays as
//! data (artifacts in an object store, the tracking store from a Secret, two or more tracking replicas
//! with an HPA and a PDB, no PersistentVolumeClaim, no secret value in any manifest), and the
//! production overlay as running processes: two tracking servers started with exactly its arguments
//! and environment on one PostgreSQL (Debian's server, a throwaway cluster) and one S3 bucket (moto on
//! loopback), the real MLflow client training through one of them, the model server resolving the
//! model through the other and the gateway predicting.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use homeml_tracking::{SqlStore, TrackingStore};
use serde_json::Value;

use crate::backend::PgCluster;
use crate::common::{root, run_ok, venv_tool};
use crate::deploy_manifests::{
    free_port, http, k8s_containers, run_stack, start, str_list, train, wait_healthy, Mapping,
    Secrets,
};

/// `kubectl kustomize` of an overlay: the text and its documents.
fn render(overlay: &str) -> (String, Vec<Value>) {
    let rendered = run_ok(
        Command::new(venv_tool("kubectl"))
            .arg("kustomize")
            .arg(root().join("deploy/k8s/overlays").join(overlay)),
    );
    let docs = rendered
        .split("\n---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| homeml_flavor::yaml::from_str(d).unwrap())
        .collect();
    (rendered, docs)
}

fn of_kind<'a>(docs: &'a [Value], kind: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    docs.iter().filter(move |d| d["kind"] == kind)
}

fn named<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

/// The value after `flag` in an argument list.
fn arg_after<'a>(args: &'a [String], flag: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| a == flag)
        .and_then(|i| args.get(i + 1))
        .map(String::as_str)
}

/// (Secret, key) of every `secretKeyRef` in a Deployment's containers.
fn secret_refs(deployment: &Value) -> Vec<(String, String, String)> {
    let mut refs = Vec::new();
    for k in deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
    {
        for e in k["env"].as_array().into_iter().flatten() {
            let r = &e["valueFrom"]["secretKeyRef"];
            if r.is_object() {
                refs.push((
                    e["name"].as_str().unwrap().to_string(),
                    r["name"].as_str().unwrap().to_string(),
                    r["key"].as_str().unwrap().to_string(),
                ));
            }
        }
    }
    refs
}

/// The (Secret, key) pairs the repository's `secret.example.yaml` files document.
fn documented_secret_keys() -> BTreeSet<(String, String)> {
    let mut keys = BTreeSet::new();
    let mut dirs = vec![root().join("deploy/k8s")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.file_name().is_some_and(|n| n == "secret.example.yaml") {
                let doc: Value =
                    homeml_flavor::yaml::from_str(&std::fs::read_to_string(&path).unwrap())
                        .unwrap();
                let name = doc["metadata"]["name"].as_str().unwrap().to_string();
                for key in doc["stringData"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, _)| k)
                {
                    keys.insert((name.clone(), key.clone()));
                }
            }
        }
    }
    keys
}

/// No secret is written into the rendered manifests: no Secret object, no literal value of a
/// credential-like variable, no ConfigMap key of that kind, no URL with a password in an argument.
fn assert_no_secret_values(overlay: &str, docs: &[Value]) {
    let secretish = |name: &str| {
        [
            "SECRET",
            "PASSWORD",
            "TOKEN",
            "ACCESS_KEY",
            "BACKEND_STORE_URI",
        ]
        .iter()
        .any(|s| name.to_ascii_uppercase().contains(s))
    };
    assert_eq!(
        of_kind(docs, "Secret").count(),
        0,
        "{overlay} renders a Secret"
    );
    for d in of_kind(docs, "ConfigMap") {
        for key in d["data"].as_object().into_iter().flatten().map(|(k, _)| k) {
            assert!(
                !secretish(key),
                "{overlay}: ConfigMap key {key} looks like a secret"
            );
        }
    }
    for d in of_kind(docs, "Deployment") {
        let dep = d["metadata"]["name"].as_str().unwrap();
        for k in d["spec"]["template"]["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for e in k["env"].as_array().into_iter().flatten() {
                let var = e["name"].as_str().unwrap();
                assert!(
                    !(secretish(var) && e["value"].is_string()),
                    "{overlay}/{dep}: {var} has a literal value; read it from a Secret"
                );
            }
            for a in str_list(&k["args"]) {
                let credentials_in_url = a
                    .split_once("://")
                    .is_some_and(|(_, rest)| rest.split('/').next().unwrap_or("").contains('@'));
                assert!(
                    !credentials_in_url,
                    "{overlay}/{dep}: argument {a} holds credentials"
                );
            }
        }
    }
}

#[test]
fn object_store_and_production_overlays_keep_their_promises() {
    let documented = documented_secret_keys();
    for overlay in ["object-store", "production"] {
        let (_, docs) = render(overlay);
        assert_no_secret_values(overlay, &docs);
        let tracking = named(&docs, "Deployment", "homeml-tracking");
        let pod = &tracking["spec"]["template"];
        let k = &pod["spec"]["containers"][0];
        let args = str_list(&k["args"]);
        assert_eq!(
            args.first().map(String::as_str),
            Some("server"),
            "{overlay}"
        );
        let dest = arg_after(&args, "--artifacts-destination").unwrap_or_default();
        assert!(
            dest.starts_with("s3://"),
            "{overlay}: artifacts go to {dest:?}"
        );
        // Every Secret reference is documented by an example, and only the tracking server holds any.
        let refs = secret_refs(tracking);
        for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            assert!(
                refs.iter()
                    .any(|(v, s, _)| v == var && s == "homeml-object-store"),
                "{overlay}: {var} is not read from the Secret homeml-object-store: {refs:?}"
            );
        }
        for (var, secret, key) in &refs {
            assert!(
                documented.contains(&(secret.clone(), key.clone())),
                "{overlay}: {var} reads {secret}/{key}, which no secret.example.yaml shows"
            );
        }
        for d in of_kind(&docs, "Deployment") {
            let name = d["metadata"]["name"].as_str().unwrap();
            if name != "homeml-tracking" {
                assert!(
                    secret_refs(d).is_empty(),
                    "{overlay}/{name}: only the tracking server holds credentials"
                );
                assert!(
                    d["spec"]["template"]["spec"]["volumes"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .all(|v| v["persistentVolumeClaim"].is_null()),
                    "{overlay}/{name} mounts a claim"
                );
            }
        }
        // The model servers follow the registry alias over HTTP on the tracking Service.
        let server = named(&docs, "Deployment", "homeml-server");
        let server_args = str_list(&server["spec"]["template"]["spec"]["containers"][0]["args"]);
        assert!(
            !server_args.iter().any(|a| a == "--bundle"),
            "{overlay}: {server_args:?}"
        );
        let config = of_kind(&docs, "ConfigMap")
            .find(|d| d["data"]["serve.toml"].is_string())
            .expect("a ConfigMap with serve.toml");
        let serve_toml = config["data"]["serve.toml"].as_str().unwrap();
        assert!(
            serve_toml.contains("tracking_uri = \"http://tracking:5000\"")
                && serve_toml.contains("uri = \"models:/"),
            "{overlay}: serve.toml:\n{serve_toml}"
        );
        for probe in ["readinessProbe", "livenessProbe"] {
            assert_eq!(k[probe]["httpGet"]["path"], "/health", "{overlay}: {probe}");
        }
        if overlay == "production" {
            assert_production(&docs, tracking);
        } else {
            // The file store (runs and registry) keeps its volume; artifacts are not on it.
            assert_eq!(
                tracking["spec"]["replicas"], 1,
                "one writer on a file store"
            );
            assert!(!dest.starts_with('/'), "{dest}");
        }
    }
}

/// The production overlay: PostgreSQL from a Secret, replicas, HPA, PDB, no claim, no database pod.
fn assert_production(docs: &[Value], tracking: &Value) {
    let pod = &tracking["spec"]["template"];
    let k = &pod["spec"]["containers"][0];
    let args = str_list(&k["args"]);
    assert!(
        arg_after(&args, "--backend-store-uri").is_none(),
        "the database URL comes from a Secret, not an argument: {args:?}"
    );
    assert!(
        secret_refs(tracking)
            .iter()
            .any(|(v, s, key)| v == "MLFLOW_BACKEND_STORE_URI"
                && s == "homeml-postgresql"
                && key == "uri"),
        "MLFLOW_BACKEND_STORE_URI is not read from the Secret homeml-postgresql"
    );
    assert!(tracking["spec"]["replicas"].as_u64().unwrap_or(0) >= 2);
    assert_ne!(tracking["spec"]["strategy"]["type"], "Recreate");
    assert_eq!(of_kind(docs, "PersistentVolumeClaim").count(), 0);
    assert_eq!(
        of_kind(docs, "StatefulSet").count(),
        0,
        "no database container here"
    );
    assert!(
        pod["spec"]["volumes"].is_null() && k["volumeMounts"].is_null(),
        "{pod}"
    );
    for d in of_kind(docs, "Deployment") {
        let image = d["spec"]["template"]["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap();
        assert!(image.starts_with("registry.example.com/homeml:"), "{image}");
    }
    let hpa = of_kind(docs, "HorizontalPodAutoscaler")
        .find(|h| {
            h["spec"]["scaleTargetRef"]["kind"] == "Deployment"
                && h["spec"]["scaleTargetRef"]["name"] == "homeml-tracking"
        })
        .expect("an HPA on the tracking Deployment");
    let min = hpa["spec"]["minReplicas"].as_u64().unwrap_or(1);
    assert!(
        min >= 2 && hpa["spec"]["maxReplicas"].as_u64().unwrap() >= min,
        "{hpa}"
    );
    let labels = pod["metadata"]["labels"].as_object().unwrap();
    let pdb = of_kind(docs, "PodDisruptionBudget")
        .find(|p| {
            p["spec"]["selector"]["matchLabels"]
                .as_object()
                .is_some_and(|m| !m.is_empty() && m.iter().all(|(k, v)| labels.get(k) == Some(v)))
        })
        .expect("a PodDisruptionBudget selecting the tracking pods");
    assert!(
        pdb["spec"]["minAvailable"].as_u64().unwrap_or(0) >= 1,
        "{pdb}"
    );
}

#[test]
fn production_overlay_runs_two_tracking_servers_on_postgresql_and_s3() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let pg = PgCluster::start(&t.join("pg"));
    let db = pg.create_db("mlflow");
    let s3 = crate::object_store_s3::moto(&t.join("moto.log"));
    let s3_port: u16 = s3.endpoint.rsplit(':').next().unwrap().parse().unwrap();
    let (rendered, docs) = render("production");
    let tracking = named(&docs, "Deployment", "homeml-tracking");
    let bucket = arg_after(
        &str_list(&tracking["spec"]["template"]["spec"]["containers"][0]["args"]),
        "--artifacts-destination",
    )
    .and_then(|d| d.strip_prefix("s3://"))
    .and_then(|d| d.split('/').next())
    .expect("an s3:// artifacts destination")
    .to_string();
    // The bucket exists before the servers start, as in a real deployment.
    let (status, body) = http("PUT", s3_port, &format!("/{bucket}"), None).expect("moto answers");
    assert_eq!(status, 200, "creating the bucket: {body}");

    let secrets: Secrets = [
        (("homeml-postgresql", "uri"), db.clone()),
        (
            ("homeml-object-store", "AWS_ACCESS_KEY_ID"),
            "testing".into(),
        ),
        (
            ("homeml-object-store", "AWS_SECRET_ACCESS_KEY"),
            "testing-secret".into(),
        ),
    ]
    .into_iter()
    .map(|((s, k), v)| ((s.to_string(), k.to_string()), v))
    .collect();
    let scratch = t.join("stack");
    std::fs::create_dir_all(&scratch).unwrap();
    let (mut containers, aliases) = k8s_containers(
        &rendered,
        &scratch,
        &t.join("no-bundle"),
        &scratch,
        &secrets,
    );
    // The endpoint is the cluster's business (empty: AWS S3); here it is moto.
    let c = containers.get_mut("homeml-tracking").unwrap();
    assert!(
        c.env
            .iter()
            .any(|(k, v)| k == "MLFLOW_S3_ENDPOINT_URL" && v.is_empty()),
        "{:?}",
        c.env
    );
    // (localhost, not 127.0.0.1: the mapping rewrites http://127.0.0.1:<container port> prefixes.)
    let endpoint = s3.endpoint.replace("127.0.0.1", "localhost");
    c.env.push(("MLFLOW_S3_ENDPOINT_URL".into(), endpoint));
    // A second replica of the same pod spec on its own port; the model server reaches the first.
    let mut replica = c.clone();
    replica.name = "homeml-tracking-2".into();
    let map = Mapping {
        hosts: BTreeMap::new(),
        ports: [(5000, free_port())].into_iter().collect(),
    };
    let replica_url = format!("http://127.0.0.1:{}", map.ports[&5000]);
    let mut second = start(&mut replica, &map, &scratch);
    wait_healthy(&replica, &map, &mut second);
    run_stack(
        &mut containers,
        ["homeml-tracking", "homeml-server", "homeml-gateway"],
        &scratch,
        &aliases,
        // Trained and registered through the second replica, served through the first.
        |_first| train(&replica_url),
    );
    drop(second);
    // The model's files are objects in the bucket, under the destination's prefix.
    let (status, listing) = http("GET", s3_port, &format!("/{bucket}?list-type=2"), None)
        .expect("moto lists the bucket");
    assert_eq!(status, 200, "{listing}");
    assert!(
        listing.contains("<Key>mlartifacts/") && listing.contains("MLmodel</Key>"),
        "{listing}"
    );
    assert_no_local_artifacts(&scratch);
    // The registry the two servers shared is the database's.
    let store = SqlStore::open(&db).expect("the tracking database");
    let model = store
        .get_registered_model("iris-classifier")
        .expect("the model registered in PostgreSQL");
    assert!(
        model.aliases.contains_key("champion"),
        "{:?}",
        model.aliases
    );
}

/// Nothing of the model landed on a local disk of a tracking server (only the model server's cache).
fn assert_no_local_artifacts(scratch: &Path) {
    let mut dirs = vec![scratch.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let text = path.display().to_string();
            if path.is_dir() {
                if !text.contains("homeml-server") {
                    dirs.push(path);
                }
            } else {
                assert!(
                    !text.ends_with("MLmodel") && !text.ends_with(".onnx"),
                    "a model file on local disk: {text}"
                );
            }
        }
    }
}
