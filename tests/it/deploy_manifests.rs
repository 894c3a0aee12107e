//! The deployment files as data: for docker-compose and every Kubernetes overlay, read each homeml
//! container's command, args, env, ports, mounts and probes, start exactly those commands with the `homeml`
//! binary on loopback (container paths mapped to temp folders, container ports to free local ports), and
//! check that every probe answers and the gateway reaches the server. A manifest that names a wrong flag,
//! port or path fails here, without a container engine.
//!
//! The wiring of issue 16: `homeml server` is the tracking service (no Python MLflow container), the real
//! MLflow client trains into it over HTTP (examples/python/train_iris_onnx.py), and the model server has
//! no store volume: it resolves `models:/iris-classifier@champion` at `http://tracking:5000` and downloads
//! the model through the artifact proxy into its cache volume (tmpfs / emptyDir).

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use common::{python, root, run_ok, venv_tool};

/// A homeml container of a manifest, as the test runs it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Container {
    /// Service (compose) or Deployment (k8s) name.
    pub(crate) name: String,
    /// The arguments after the binary.
    pub(crate) args: Vec<String>,
    /// Environment variables (later entries win, as `env` wins over `envFrom` in Kubernetes).
    pub(crate) env: Vec<(String, String)>,
    /// Container path -> local path.
    pub(crate) mounts: Vec<(String, PathBuf)>,
    /// Ports the container listens on.
    pub(crate) ports: Vec<u16>,
    /// Health checks: (container port, path).
    pub(crate) probes: Vec<(u16, String)>,
    /// A compose healthcheck command, run as is with the binary.
    pub(crate) health_cmd: Option<Vec<String>>,
}

/// Kills the child on drop.
pub(crate) struct Running(Child, String);
impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Compose-style `${VAR}`, `${VAR:-default}` and `${VAR:?message}` interpolation.
fn interpolate(text: &str, vars: &BTreeMap<&str, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('}') else {
            break;
        };
        let expr = &rest[start + 2..start + end];
        let name = expr.split([':', '-', '?']).next().unwrap_or(expr);
        let value = vars.get(name).cloned().unwrap_or_else(|| {
            expr.split_once(":-")
                .map(|(_, d)| d.to_string())
                .unwrap_or_else(|| panic!("${{{expr}}} has no value in the test"))
        });
        out.push_str(&value);
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

/// Everything that maps container addresses to local ones.
#[derive(Debug, Default)]
pub(crate) struct Mapping {
    /// (host name, container port) -> local port, for `http://host:port` URLs between services.
    pub(crate) hosts: BTreeMap<(String, u16), u16>,
    /// This container's ports -> local ports.
    pub(crate) ports: BTreeMap<u16, u16>,
}

impl Mapping {
    fn local_port(&self, c: &Container, port: u16) -> u16 {
        *self.ports.get(&port).unwrap_or_else(|| {
            panic!(
                "{}: port {port} is not a port the container declares ({:?})",
                c.name, c.ports
            )
        })
    }

    /// Rewrites a config file or argument: container paths to local ones, service URLs to loopback,
    /// `port = N` to the local port, and `0.0.0.0` to loopback.
    fn localize(&self, c: &Container, text: &str) -> String {
        let mut out = text.to_string();
        for ((host, port), local) in &self.hosts {
            out = out.replace(
                &format!("http://{host}:{port}"),
                &format!("http://127.0.0.1:{local}"),
            );
        }
        for (port, local) in &self.ports {
            out = out.replace(
                &format!("http://127.0.0.1:{port}"),
                &format!("http://127.0.0.1:{local}"),
            );
            out = out.replace(&format!("port = {port}\n"), &format!("port = {local}\n"));
        }
        out = out.replace("0.0.0.0", "127.0.0.1");
        let mut mounts: Vec<&(String, PathBuf)> = c.mounts.iter().collect();
        mounts.sort_by_key(|(p, _)| std::cmp::Reverse(p.len()));
        for (container, local) in mounts {
            out = out.replace(container.as_str(), &local.display().to_string());
        }
        out
    }
}

/// Starts a container's command with the mapping applied; config files it mounts are localized copies.
pub(crate) fn start(c: &mut Container, map: &Mapping, scratch: &Path) -> Running {
    // Localize mounted config files (files, not folders).
    let mut mounts = Vec::new();
    for (container, local) in &c.mounts {
        if local.is_file() {
            let text = std::fs::read_to_string(local).unwrap();
            let copy = scratch.join(format!(
                "{}-{}",
                c.name,
                local.file_name().unwrap().to_string_lossy()
            ));
            std::fs::write(&copy, map.localize(c, &text)).unwrap();
            mounts.push((container.clone(), copy));
        } else {
            mounts.push((container.clone(), local.clone()));
        }
    }
    c.mounts = mounts;
    let mut args = Vec::new();
    let mut iter = c.args.iter().peekable();
    while let Some(a) = iter.next() {
        args.push(map.localize(c, a));
        if a == "--port" || a == "-p" {
            let p: u16 = iter
                .next()
                .expect("--port needs a value")
                .parse()
                .expect("a numeric port");
            args.push(map.local_port(c, p).to_string());
        }
    }
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_homeml"));
    cmd.args(&args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .env_remove("MLFLOW_TRACKING_URI");
    for (k, v) in &c.env {
        cmd.env(k, map.localize(c, v));
    }
    let child = cmd.spawn().unwrap();
    Running(child, format!("{} {args:?}", c.name))
}

pub(crate) fn http(
    method: &str,
    port: u16,
    path: &str,
    body: Option<&str>,
) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let body = body.unwrap_or("");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let status = raw.split_whitespace().nth(1)?.parse().ok()?;
    Some((
        status,
        raw.split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default(),
    ))
}

/// Waits until every probe of `c` answers 200 (and its compose healthcheck command succeeds).
pub(crate) fn wait_healthy(c: &Container, map: &Mapping, proc: &mut Running) {
    let deadline = Instant::now() + Duration::from_secs(90);
    for (port, path) in &c.probes {
        let local = map.local_port(c, *port);
        loop {
            if let Some((200, _)) = http("GET", local, path, None) {
                break;
            }
            if let Ok(Some(status)) = proc.0.try_wait() {
                panic!("{} exited with {status} before {path} answered", proc.1);
            }
            assert!(
                Instant::now() < deadline,
                "{}: probe {path} on port {port} never answered 200",
                c.name
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    if let Some(test) = &c.health_cmd {
        let (first, rest) = test.split_first().unwrap();
        assert!(
            first.ends_with("/homeml"),
            "{}: the healthcheck runs {first}, not the homeml binary",
            c.name
        );
        let args: Vec<String> = rest.iter().map(|a| map.localize(c, a)).collect();
        run_ok(Command::new(env!("CARGO_BIN_EXE_homeml")).args(&args));
    }
}

/// The gateway answers an iris prediction with a label: it reached the server.
fn assert_gateway_predicts(port: u16) {
    let body =
        r#"{"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}"#;
    let (status, answer) =
        http("POST", port, "/apps/iris/predict", Some(body)).expect("the gateway answers");
    assert_eq!(status, 200, "gateway answer: {answer}");
    let v: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(v["label"], "setosa", "{answer}");
}

/// Trains and registers `models:/iris-classifier@champion` with the real MLflow client (the Python
/// example) on the tracking server at `url`.
pub(crate) fn train(url: &str) {
    run_ok(
        Command::new(python())
            .arg(root().join("examples/python/train_iris_onnx.py"))
            .arg(url)
            .env_remove("MLFLOW_TRACKING_URI"),
    );
}

/// The tracking service's and the model server's containers: the wiring of issue 16.
pub(crate) fn assert_served_over_http(
    containers: &BTreeMap<String, Container>,
    tracking: &str,
    server: &str,
) {
    let t = &containers[tracking];
    assert_eq!(
        t.args.first().map(String::as_str),
        Some("server"),
        "{tracking} runs `homeml server`: {:?}",
        t.args
    );
    assert!(t.ports.contains(&5000), "{tracking}: {:?}", t.ports);
    let s = &containers[server];
    let toml = s
        .mounts
        .iter()
        .find(|(c, _)| c.ends_with("serve.toml"))
        .map(|(_, local)| std::fs::read_to_string(local).unwrap());
    let uses_bundle = s.args.iter().any(|a| a == "--bundle");
    if !uses_bundle {
        let toml = toml.unwrap_or_else(|| panic!("{server} mounts no serve.toml"));
        assert!(
            toml.contains("tracking_uri = \"http://tracking:5000\""),
            "{server}: serve.toml resolves models elsewhere:\n{toml}"
        );
        let cache = toml
            .lines()
            .find_map(|l| l.strip_prefix("model_cache_dir = "))
            .map(|v| v.trim_matches('"').to_string())
            .unwrap_or_else(|| panic!("{server}: serve.toml sets no model_cache_dir"));
        assert!(
            s.mounts.iter().any(|(c, _)| *c == cache),
            "{server}: the model cache {cache} is not a writable volume: {:?}",
            s.mounts
        );
    }
}

pub(crate) fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    x.as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| x.to_string())
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn compose_services_run_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let deploy = root().join("deploy");
    let vars = BTreeMap::new();
    let text = interpolate(
        &std::fs::read_to_string(deploy.join("docker-compose.yaml")).unwrap(),
        &vars,
    );
    let compose: Value = homeml_flavor::yaml::from_str(&text).unwrap();
    let services = compose["services"].as_object().unwrap();

    let mut containers = BTreeMap::new();
    for (name, svc) in services {
        let image = svc["image"].as_str().unwrap_or_default();
        assert!(
            !image.contains("mlflow"),
            "{name}: the tracking server is `homeml server`, not {image}"
        );
        if !image.contains("homeml") {
            continue;
        }
        let mut c = Container {
            name: name.clone(),
            args: str_list(&svc["command"]),
            ..Container::default()
        };
        for (k, v) in svc["environment"].as_object().into_iter().flatten() {
            c.env.push((
                k.clone(),
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string()),
            ));
        }
        for vol in svc["volumes"].as_array().into_iter().flatten() {
            let target = vol["target"].as_str().unwrap();
            let local = match vol["type"].as_str() {
                // A named volume or a tmpfs: an empty folder of its own.
                Some("volume") | Some("tmpfs") => {
                    let dir = tmp
                        .path()
                        .join(format!("{name}-vol{}", target.replace('/', "-")));
                    std::fs::create_dir_all(&dir).unwrap();
                    dir
                }
                _ => {
                    let source = vol["source"].as_str().unwrap();
                    assert!(
                        !source.contains("mlruns"),
                        "{name}: mounts a tracking store ({source}); models come over HTTP"
                    );
                    if Path::new(source).is_absolute() {
                        PathBuf::from(source)
                    } else {
                        deploy.join(source)
                    }
                }
            };
            assert!(
                local.exists(),
                "{name}: volume source {} does not exist",
                local.display()
            );
            c.mounts
                .push((vol["target"].as_str().unwrap().to_string(), local));
        }
        for p in str_list(&svc["ports"]) {
            let container_port = p.rsplit(':').next().unwrap().parse().unwrap();
            c.ports.push(container_port);
        }
        let test = str_list(&svc["healthcheck"]["test"]);
        assert_eq!(
            test.first().map(String::as_str),
            Some("CMD"),
            "{name}: healthcheck must be CMD form"
        );
        let url = test
            .iter()
            .find(|a| a.starts_with("http://"))
            .expect("a probe URL")
            .clone();
        let (port, path) = url
            .trim_start_matches("http://127.0.0.1:")
            .split_once('/')
            .unwrap();
        c.probes.push((port.parse().unwrap(), format!("/{path}")));
        c.health_cmd = Some(test[1..].to_vec());
        containers.insert(name.clone(), c);
    }
    assert!(
        ["tracking", "server", "gateway"]
            .iter()
            .all(|k| containers.contains_key(*k)),
        "{:?}",
        containers.keys()
    );
    assert_served_over_http(&containers, "tracking", "server");
    // Compose services reach each other as http://<service>:<container port>.
    let aliases: Vec<(String, String)> =
        containers.keys().map(|k| (k.clone(), k.clone())).collect();
    run_stack(
        &mut containers,
        ["tracking", "server", "gateway"],
        tmp.path(),
        &aliases,
        train,
    );
}

/// Starts the tracking server, runs `after_tracking` with its local URL (training), then the model
/// server and the gateway, with ports mapped; waits for their probes and predicts through the gateway.
/// `aliases` names, for each host name in URLs (a service name), the container behind it.
pub(crate) fn run_stack(
    containers: &mut BTreeMap<String, Container>,
    [tracking, server, gateway]: [&str; 3],
    scratch: &Path,
    aliases: &[(String, String)],
    after_tracking: impl FnOnce(&str),
) {
    let mut port_maps: BTreeMap<String, BTreeMap<u16, u16>> = BTreeMap::new();
    for (name, c) in containers.iter() {
        port_maps.insert(
            name.clone(),
            c.ports.iter().map(|&p| (p, free_port())).collect(),
        );
    }
    let mut hosts = BTreeMap::new();
    for (host, target) in aliases {
        for (&p, &l) in &port_maps[target] {
            hosts.insert((host.clone(), p), l);
        }
    }
    let mut running = Vec::new();
    let mut after_tracking = Some(after_tracking);
    for name in [tracking, server, gateway] {
        let map = Mapping {
            hosts: hosts.clone(),
            ports: port_maps[name].clone(),
        };
        let c = containers.get_mut(name).unwrap();
        let mut proc = start(c, &map, scratch);
        wait_healthy(c, &map, &mut proc);
        running.push(proc);
        if name == tracking {
            let port = map.local_port(c, 5000);
            if let Some(f) = after_tracking.take() {
                f(&format!("http://127.0.0.1:{port}"));
            }
        }
    }
    let gw = &containers[gateway];
    let gw_port = port_maps[gateway][gw.ports.first().expect("the gateway declares a port")];
    assert_gateway_predicts(gw_port);
}

/// Secret values the test provides: (Secret name, key) -> value. The manifests hold none.
pub(crate) type Secrets = BTreeMap<(String, String), String>;

/// Reads the homeml Deployments of a rendered kustomization; environment variables from a Secret take
/// their value from `secrets` (a reference the test does not provide fails).
pub(crate) fn k8s_containers(
    rendered: &str,
    store: &Path,
    bundle: &Path,
    scratch: &Path,
    secrets: &Secrets,
) -> (BTreeMap<String, Container>, Vec<(String, String)>) {
    let docs: Vec<Value> = rendered
        .split("\n---\n")
        .filter(|d| !d.trim().is_empty())
        .map(|d| homeml_flavor::yaml::from_str(d).unwrap())
        .collect();
    // ConfigMaps become folders of files (and sources of environment variables).
    let mut config_dirs = BTreeMap::new();
    let mut config_data: BTreeMap<String, &Value> = BTreeMap::new();
    for d in docs.iter().filter(|d| d["kind"] == "ConfigMap") {
        let name = d["metadata"]["name"].as_str().unwrap().to_string();
        config_data.insert(name.clone(), &d["data"]);
        let dir = scratch.join(&name);
        std::fs::create_dir_all(&dir).unwrap();
        for (file, content) in d["data"].as_object().into_iter().flatten() {
            std::fs::write(dir.join(file), content.as_str().unwrap()).unwrap();
        }
        config_dirs.insert(name, dir);
    }
    let mut containers = BTreeMap::new();
    let mut labels_to_deployment = Vec::new();
    for d in docs.iter().filter(|d| d["kind"] == "Deployment") {
        let name = d["metadata"]["name"].as_str().unwrap().to_string();
        let spec = &d["spec"]["template"]["spec"];
        let pod_labels = d["spec"]["template"]["metadata"]["labels"].clone();
        labels_to_deployment.push((pod_labels, name.clone()));
        let volumes: BTreeMap<String, &Value> = spec["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|v| (v["name"].as_str().unwrap().to_string(), v))
            .collect();
        let k = &spec["containers"][0];
        assert_eq!(
            k["securityContext"]["readOnlyRootFilesystem"], true,
            "{name}"
        );
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true, "{name}");
        let mut c = Container {
            name: name.clone(),
            args: str_list(&k["args"]),
            ..Container::default()
        };
        assert!(
            k["command"].is_null(),
            "{name}: the image's ENTRYPOINT is homeml; set args, not command"
        );
        for from in k["envFrom"].as_array().into_iter().flatten() {
            let cm = from["configMapRef"]["name"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: envFrom {from} is not a configMapRef"));
            let data = config_data
                .get(cm)
                .unwrap_or_else(|| panic!("{name}: envFrom configMap {cm} is not rendered"));
            for (key, value) in data.as_object().into_iter().flatten() {
                c.env
                    .push((key.clone(), value.as_str().unwrap_or_default().into()));
            }
        }
        for e in k["env"].as_array().into_iter().flatten() {
            let var = e["name"].as_str().unwrap().to_string();
            let value = if let Some(v) = e["value"].as_str() {
                v.to_string()
            } else if e["valueFrom"]["secretKeyRef"].is_object() {
                let r = &e["valueFrom"]["secretKeyRef"];
                let id = (
                    r["name"].as_str().unwrap().to_string(),
                    r["key"].as_str().unwrap().to_string(),
                );
                secrets.get(&id).cloned().unwrap_or_else(|| {
                    panic!(
                        "{name}: {var} reads the Secret key {id:?}, which the test does not give"
                    )
                })
            } else {
                String::new()
            };
            c.env.push((var, value));
        }
        let mut named_ports = BTreeMap::new();
        for p in k["ports"].as_array().into_iter().flatten() {
            let port = p["containerPort"].as_u64().unwrap() as u16;
            c.ports.push(port);
            if let Some(n) = p["name"].as_str() {
                named_ports.insert(n.to_string(), port);
            }
        }
        for probe in ["readinessProbe", "livenessProbe", "startupProbe"] {
            let get = &k[probe]["httpGet"];
            if get.is_null() {
                continue;
            }
            let port = match &get["port"] {
                Value::String(n) => *named_ports
                    .get(n)
                    .unwrap_or_else(|| panic!("{name}: {probe} port {n} is not declared")),
                v => v.as_u64().unwrap() as u16,
            };
            c.probes
                .push((port, get["path"].as_str().unwrap().to_string()));
        }
        assert!(!c.probes.is_empty(), "{name} has no HTTP probe");
        for m in k["volumeMounts"].as_array().into_iter().flatten() {
            let vol = volumes[m["name"].as_str().unwrap()];
            let local = if let Some(cm) = vol["configMap"]["name"].as_str() {
                config_dirs
                    .get(cm)
                    .unwrap_or_else(|| panic!("{name}: configMap {cm} is not rendered"))
                    .clone()
            } else if vol["persistentVolumeClaim"].is_object() {
                assert_eq!(
                    name, "homeml-tracking",
                    "only the tracking server mounts the store; {name} gets models over HTTP"
                );
                store.to_path_buf()
            } else if vol["emptyDir"].is_object() {
                let dir = scratch.join(format!("{name}-{}", m["name"].as_str().unwrap()));
                std::fs::create_dir_all(&dir).unwrap();
                dir
            } else {
                panic!("{name}: volume {vol} is of a kind the test does not know");
            };
            c.mounts
                .push((m["mountPath"].as_str().unwrap().to_string(), local));
        }
        // An image built with `homeml build` carries the bundle at /bundle.
        if c.args.iter().any(|a| a == "--bundle") {
            c.mounts.push(("/bundle".into(), bundle.to_path_buf()));
        }
        // The mounted config files are localized copies: the config folder's files are listed as mounts.
        let mut file_mounts = Vec::new();
        for (mount, local) in &c.mounts {
            if local.is_dir() && config_dirs.values().any(|d| d == local) {
                for f in std::fs::read_dir(local).unwrap() {
                    let f = f.unwrap().path();
                    file_mounts.push((
                        format!("{mount}/{}", f.file_name().unwrap().to_string_lossy()),
                        f,
                    ));
                }
            }
        }
        c.mounts.extend(file_mounts);
        containers.insert(name, c);
    }
    // Services: name -> the Deployment its selector picks.
    let mut aliases = Vec::new();
    for d in docs.iter().filter(|d| d["kind"] == "Service") {
        let svc = d["metadata"]["name"].as_str().unwrap().to_string();
        let selector = d["spec"]["selector"].as_object().unwrap();
        let target = labels_to_deployment
            .iter()
            .find(|(labels, _)| selector.iter().all(|(k, v)| &labels[k] == v))
            .map(|(_, n)| n.clone())
            .unwrap_or_else(|| panic!("service {svc} selects no Deployment"));
        for p in d["spec"]["ports"].as_array().into_iter().flatten() {
            let port = p["port"].as_u64().unwrap() as u16;
            assert!(
                containers[&target].ports.contains(&port),
                "service {svc}: port {port} is not a container port of {target}"
            );
        }
        aliases.push((svc, target));
    }
    (containers, aliases)
}

#[test]
fn every_k8s_overlay_runs_as_written() {
    let tmp = tempfile::tempdir().unwrap();
    let bundle = tmp.path().join("bundle");
    for overlay in ["dev", "prod"] {
        let scratch = tmp.path().join(overlay);
        let store = scratch.join("tracking-data");
        std::fs::create_dir_all(&store).unwrap();
        let rendered = run_ok(
            Command::new(venv_tool("kubectl"))
                .arg("kustomize")
                .arg(root().join("deploy/k8s/overlays").join(overlay)),
        );
        let (mut containers, aliases) =
            k8s_containers(&rendered, &store, &bundle, &scratch, &Secrets::new());
        assert!(
            ["homeml-tracking", "homeml-server", "homeml-gateway"]
                .iter()
                .all(|k| containers.contains_key(*k)),
            "{overlay}: {:?}",
            containers.keys()
        );
        assert_served_over_http(&containers, "homeml-tracking", "homeml-server");
        let cache = scratch.join("build-cache");
        run_stack(
            &mut containers,
            ["homeml-tracking", "homeml-server", "homeml-gateway"],
            &scratch,
            &aliases,
            |url| {
                // dev trains and builds the bundle; prod serves that bundle (its image).
                if !bundle.exists() {
                    train(url);
                    // The prod overlay's image: a bundle built from the tracking server over HTTP.
                    run_ok(
                        Command::new(env!("CARGO_BIN_EXE_homeml"))
                            .args([
                                "build",
                                "-m",
                                "models:/iris-classifier@champion",
                                "--name",
                                "iris",
                                "-o",
                            ])
                            .arg(&bundle)
                            .args(["--tracking-uri", url])
                            .env("HOMEML_MODEL_CACHE", &cache),
                    );
                }
            },
        );
    }
}
