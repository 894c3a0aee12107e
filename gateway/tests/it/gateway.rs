//! End-to-end tests of the gateway over real HTTP on loopback, against stub model servers.

use crate::common;

use common::*;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};
use std::sync::Mutex;

fn app(name: &str, extra: &str, upstreams: &str) -> String {
    format!("[[apps]]\nname = \"{name}\"\n{extra}\n{IRIS_FEATURES}\n{upstreams}\n")
}

fn upstream(name: &str, url: &str, extra: &str) -> String {
    format!("[[apps.upstreams]]\nname = \"{name}\"\nurl = \"{url}\"\nmodel = \"iris\"\n{extra}\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predicts_with_named_features_over_v2() {
    let s = stub(model("iris", "3")).await;
    // No input.name configured: the gateway learns "float_input" from the model metadata.
    let gw = gateway(&app("iris", "", &upstream("v1", &s.url(), "")), &[]).await;
    let http = Http::new();

    let r = http
        .post(
            gw.addr,
            "/apps/iris/predict",
            &[("x-request-id", "req-42")],
            setosa(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["label"], "setosa");
    assert_eq!(v["model"], json!({"name": "iris", "version": "3"}));
    assert_eq!(v["upstream"], "v1");
    assert_eq!(v["request_id"], "req-42");
    assert!(v.get("probabilities").is_none());
    assert_eq!(r.headers["x-request-id"], "req-42");
    assert_eq!(s.request_ids.lock().unwrap().last().unwrap(), "req-42");
    let body = s.last_body.lock().unwrap().clone().unwrap();
    assert_eq!(body["id"], "req-42");
    assert_eq!(body["inputs"][0]["name"], "float_input");
    assert_eq!(body["inputs"][0]["datatype"], "FP32");
    assert_eq!(body["inputs"][0]["shape"], json!([1, 4]));

    // A batch, with probabilities and a default (petal_width absent -> 1.0).
    let mut third = virginica();
    third.as_object_mut().unwrap().remove("petal_width");
    let r = http
        .post(
            gw.addr,
            "/apps/iris/predict?probabilities=true",
            &[],
            json!([setosa(), virginica(), third]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    let preds = v["predictions"].as_array().unwrap();
    assert_eq!(preds.len(), 3);
    assert_eq!(preds[0]["label"], "setosa");
    assert_eq!(preds[1]["label"], "virginica");
    let p = preds[1]["probabilities"].as_object().unwrap();
    assert_eq!(p.len(), 3);
    let total: f64 = p.values().map(|x| x.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-3, "{p:?}");
    assert!(p["virginica"].as_f64().unwrap() > p["setosa"].as_f64().unwrap());
    let body = s.last_body.lock().unwrap().clone().unwrap();
    assert_eq!(body["inputs"][0]["shape"], json!([3, 4]));
    assert_eq!(body["inputs"][0]["data"][11], json!(1.0));

    // No request id: one is generated, returned and passed upstream.
    let r = http
        .post(gw.addr, "/apps/iris/predict", &[], setosa())
        .await;
    let rid = r.json()["request_id"].as_str().unwrap().to_string();
    assert_eq!(rid.len(), 32, "{rid}");
    assert_eq!(r.headers["x-request-id"], rid.as_str());
    assert_eq!(s.request_ids.lock().unwrap().last().unwrap(), &rid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validation_errors_name_the_field() {
    let s = stub(model("iris", "1")).await;
    let gw = gateway(&app("iris", "", &upstream("v1", &s.url(), "")), &[]).await;
    let http = Http::new();
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "colour": "red"}),
            "colour",
            "unknown",
        ),
        (
            json!({"sepal_length": 5.1, "sepal_width": 3.5}),
            "petal_length",
            "missing",
        ),
        (
            json!({"sepal_length": "5.1", "sepal_width": 3.5, "petal_length": 1.4}),
            "sepal_length",
            "number",
        ),
        (
            json!({"sepal_length": 5.1, "sepal_width": 30.5, "petal_length": 1.4}),
            "sepal_width",
            "maximum",
        ),
        (
            json!({"sepal_length": -1, "sepal_width": 3.5, "petal_length": 1.4}),
            "sepal_length",
            "minimum",
        ),
        (
            json!([setosa(), {"sepal_length": 5.1}]),
            "[1].sepal_width",
            "missing",
        ),
        (json!("setosa"), "$", "expected"),
        (json!([]), "$", "empty"),
    ];
    for (body, field, msg) in cases {
        let r = http
            .post(gw.addr, "/apps/iris/predict", &[], body.clone())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text()
        );
        let v = r.json();
        assert_eq!(v["error"]["code"], "validation_error");
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains(msg),
            "{body}: {v}"
        );
    }
    let r = http
        .send(
            Method::POST,
            gw.addr,
            "/apps/iris/predict",
            &[],
            "{not json",
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["error"]["code"], "bad_request");
    let r = http
        .post(
            gw.addr,
            "/apps/iris/predict?probabilities=perhaps",
            &[],
            setosa(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json()["error"]["field"], "probabilities");
    assert_eq!(s.hits(), 0, "invalid requests must not reach the model");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn speaks_mlflow_inputs_and_dataframe_split() {
    let s = stub(model("iris", "1")).await;
    let cfg = format!(
        "{}{}",
        app(
            "iris",
            "",
            &upstream("m1", &s.url(), "protocol = \"mlflow\"\nversion = \"7\"")
        ),
        app(
            "iris-df",
            "[apps.input]\nmlflow_format = \"dataframe_split\"",
            &upstream("m2", &s.url(), "protocol = \"mlflow\"")
        )
    );
    let gw = gateway(&cfg, &[]).await;
    let http = Http::new();
    let r = http
        .post(
            gw.addr,
            "/apps/iris/predict?probabilities=1",
            &[],
            virginica(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let v = r.json();
    assert_eq!(v["label"], "virginica");
    assert_eq!(v["model"], json!({"name": "iris", "version": "7"}));
    assert!(v["probabilities"]["virginica"].as_f64().unwrap() > 0.5);
    let body = s.last_body.lock().unwrap().clone().unwrap();
    assert_eq!(body, json!({"inputs": [[6.7, 3.1, 5.6, 2.4]]}));

    let r = http
        .post(gw.addr, "/apps/iris-df/predict", &[], json!([setosa()]))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["predictions"][0]["label"], "setosa");
    let body = s.last_body.lock().unwrap().clone().unwrap();
    assert_eq!(
        body["dataframe_split"]["columns"],
        json!(["sepal_length", "sepal_width", "petal_length", "petal_width"])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ab_split_follows_the_weights() {
    let a = stub(model("iris", "a")).await;
    let b = stub(model("iris", "b")).await;
    let ups = format!(
        "{}{}",
        upstream("a", &a.url(), "weight = 3"),
        upstream("b", &b.url(), "weight = 1")
    );
    let gw = gateway(&app("iris", "", &ups), &[]).await;
    let http = Http::new();
    let n = 800;
    let mut to_b = 0;
    for _ in 0..n {
        let r = http
            .post(gw.addr, "/apps/iris/predict", &[], setosa())
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        let v = r.json();
        if v["upstream"] == "b" {
            assert_eq!(v["model"]["version"], "b");
            to_b += 1;
        }
    }
    let share = to_b as f64 / n as f64;
    // Expected 0.25; 5 standard deviations of a binomial(800, 0.25) is ~0.077.
    assert!((share - 0.25).abs() < 0.077, "share of b: {share}");
    assert_eq!(a.hits() + b.hits(), n);
    assert_eq!(b.hits(), to_b);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sticky_header_pins_an_upstream() {
    let a = stub(model("iris", "a")).await;
    let b = stub(model("iris", "b")).await;
    let ups = format!(
        "{}{}",
        upstream("a", &a.url(), ""),
        upstream("b", &b.url(), "")
    );
    let gw = gateway(&app("iris", "sticky_header = \"x-user\"", &ups), &[]).await;
    let http = Http::new();
    let mut users_on = std::collections::HashMap::new();
    for user in 0..30 {
        let u = format!("user-{user}");
        let mut seen = std::collections::HashSet::new();
        for _ in 0..5 {
            let r = http
                .post(gw.addr, "/apps/iris/predict", &[("x-user", &u)], setosa())
                .await;
            assert_eq!(r.status, StatusCode::OK);
            seen.insert(r.json()["upstream"].as_str().unwrap().to_string());
        }
        assert_eq!(seen.len(), 1, "{u} moved between upstreams: {seen:?}");
        *users_on
            .entry(seen.into_iter().next().unwrap())
            .or_insert(0) += 1;
    }
    assert_eq!(
        users_on.len(),
        2,
        "users should spread over both: {users_on:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_is_compared_but_never_returned() {
    let primary = stub(model("iris", "prod")).await;
    let shadow = stub(Behavior::Model {
        name: "iris-candidate".into(),
        version: "9".into(),
        input: "float_input".into(),
        shift: 1,
    })
    .await;
    let hung = stub(Behavior::Hang).await;
    let cfg = format!(
        "{}[apps.shadow]\nname = \"cand\"\nurl = \"{}\"\nmodel = \"iris\"\n\n{}[apps.shadow]\nname = \"hung\"\nurl = \"{}\"\ntimeout_ms = 300\n",
        app("iris", "", &upstream("prod", &primary.url(), "")),
        shadow.url(),
        app("iris2", "", &upstream("prod2", &primary.url(), "")),
        hung.url(),
    );
    let gw = gateway(&cfg, &[]).await;
    let http = Http::new();
    let n = 30;
    for _ in 0..n {
        let r = http
            .post(gw.addr, "/apps/iris/predict", &[], setosa())
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let v = r.json();
        assert_eq!(v["label"], "setosa");
        assert_eq!(v["upstream"], "prod");
        assert_eq!(v["model"]["name"], "iris");
        assert_eq!(v["model"]["version"], "prod");
        assert!(!r.text().contains("candidate") && !r.text().contains("cand"));
    }
    assert!(
        eventually(|| shadow.hits() == n).await,
        "shadow got {}",
        shadow.hits()
    );
    assert!(eventually(|| gw.gateway.metrics().shadow_disagreements("iris") == n as u64).await);
    // The shadow saw the same request ids as the primary. Shadow calls run in the background on
    // their own connections, so they may arrive in another order: compare them as sets.
    let sorted = |ids: &Mutex<Vec<String>>| {
        let mut v = ids.lock().unwrap().clone();
        v.sort();
        v
    };
    let primary_ids = sorted(&primary.request_ids);
    assert_eq!(primary_ids.len(), n);
    assert_eq!(sorted(&shadow.request_ids), primary_ids);
    // A hung shadow changes nothing for the client.
    for _ in 0..5 {
        let r = http
            .post(gw.addr, "/apps/iris2/predict", &[], virginica())
            .await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.json()["label"], "virginica");
    }
    let m = http.get(gw.addr, "/metrics").await.text();
    assert_eq!(
        metric(
            &m,
            "homeml_gateway_shadow_disagreements_total{app=\"iris\"}"
        ),
        Some(n as f64)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_connect_failures_only() {
    let good = stub(model("iris", "1")).await;
    let dead = format!("http://127.0.0.1:{}", closed_port().await);
    let ups = format!(
        "{}{}",
        upstream("dead", &dead, "weight = 100"),
        upstream("good", &good.url(), "weight = 1")
    );
    let only_dead = upstream(
        "dead2",
        &format!("http://127.0.0.1:{}", closed_port().await),
        "",
    );
    let cfg = format!(
        "{}{}",
        app("iris", "[apps.health]\nfailure_threshold = 1000", &ups),
        app(
            "lost",
            "[apps.retry]\nmax_retries = 2\n[apps.health]\nfailure_threshold = 1000",
            &only_dead
        )
    );
    let gw = gateway(&cfg, &[]).await;
    let http = Http::new();
    for _ in 0..10 {
        let r = http
            .post(gw.addr, "/apps/iris/predict", &[], setosa())
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        assert_eq!(r.json()["upstream"], "good");
    }
    assert_eq!(good.hits(), 10);
    let r = http
        .post(gw.addr, "/apps/lost/predict", &[], setosa())
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "upstream_error");
    let m = http.get(gw.addr, "/metrics").await.text();
    // One try plus max_retries = 2 retries, all connect failures.
    assert_eq!(
        metric(
            &m,
            "homeml_gateway_upstream_errors_total{upstream=\"dead2\",kind=\"connect\"}"
        ),
        Some(3.0),
        "{m}"
    );
    assert!(metric(&m, "homeml_gateway_retries_total{app=\"iris\"}").unwrap() >= 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeouts_answer_504_and_are_not_retried() {
    let hung = stub(Behavior::Hang).await;
    let ups = upstream("slow", &hung.url(), "timeout_ms = 300\n");
    let cfg = app(
        "iris",
        "[apps.retry]\nmax_retries = 3\n[apps.input]\nname = \"float_input\"",
        &ups,
    );
    let gw = gateway(&cfg, &[]).await;
    let http = Http::new();
    let r = http
        .post(gw.addr, "/apps/iris/predict", &[], setosa())
        .await;
    assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "upstream_timeout");
    assert_eq!(hung.hits(), 1, "a timed-out call must not be retried");
    let m = http.get(gw.addr, "/metrics").await.text();
    assert_eq!(
        metric(
            &m,
            "homeml_gateway_upstream_errors_total{upstream=\"slow\",kind=\"timeout\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &m,
            "homeml_gateway_requests_total{app=\"iris\",upstream=\"slow\",status=\"504\"}"
        ),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passive_health_skips_a_failing_upstream() {
    let bad = stub(Behavior::Fail).await;
    let good = stub(model("iris", "1")).await;
    let ups = format!(
        "{}{}",
        upstream("bad", &bad.url(), ""),
        upstream("good", &good.url(), "")
    );
    let cfg = app(
        "iris",
        "[apps.input]\nname = \"float_input\"\n[apps.health]\nfailure_threshold = 3\ncooldown_ms = 600000",
        &ups,
    );
    let gw = gateway(&cfg, &[]).await;
    let http = Http::new();
    let mut failed = 0;
    for _ in 0..60 {
        let r = http
            .post(gw.addr, "/apps/iris/predict", &[], setosa())
            .await;
        if r.status != StatusCode::OK {
            assert_eq!(r.status, StatusCode::BAD_GATEWAY, "{}", r.text());
            failed += 1;
        }
    }
    // Three consecutive failures eject "bad" for ten minutes; no retry of 5xx answers.
    assert_eq!(bad.hits(), 3);
    assert_eq!(failed, 3);
    assert_eq!(good.hits(), 57);
    let m = http.get(gw.addr, "/metrics").await.text();
    assert_eq!(
        metric(
            &m,
            "homeml_gateway_upstream_ejections_total{upstream=\"bad\"}"
        ),
        Some(1.0)
    );
}

fn sha256_hex(s: &str) -> String {
    homeml_gateway::auth::hash_key_hex(s)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_keys_401_403_and_rate_limits() {
    let s = stub(model("iris", "1")).await;
    let keys = format!(
        "[[keys]]\nname = \"alice\"\nsha256 = \"{}\"\napps = [\"iris\"]\n\n[[keys]]\nname = \"carol\"\nsha256 = \"{}\"\napps = [\"*\"]\nrate_limit = {{ requests_per_second = 0.01, burst = 2 }}\n",
        sha256_hex("alice-secret"),
        sha256_hex("carol-secret")
    );
    let cfg = format!(
        "[auth]\nheader = \"x-api-key\"\nkeys_file = \"keys.toml\"\n[[auth.keys]]\nname = \"bob\"\nsha256 = \"{}\"\napps = [\"open\"]\n\n{}{}",
        sha256_hex("bob-secret"),
        app("iris", "", &upstream("v1", &s.url(), "")),
        app("open", "auth = false", &upstream("v2", &s.url(), "")),
    );
    let gw = gateway(&cfg, &[("keys.toml", &keys)]).await;
    let http = Http::new();
    let path = "/apps/iris/predict";

    let missing = http.post(gw.addr, path, &[], setosa()).await;
    let wrong = http
        .post(gw.addr, path, &[("x-api-key", "alice-secreT")], setosa())
        .await;
    assert_eq!(missing.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        missing.body, wrong.body,
        "401 must not tell missing from wrong"
    );
    let forbidden = http
        .post(gw.addr, path, &[("x-api-key", "bob-secret")], setosa())
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let (a, b) = (missing.json(), forbidden.json());
    assert_eq!(
        a["error"].as_object().unwrap().keys().collect::<Vec<_>>(),
        b["error"].as_object().unwrap().keys().collect::<Vec<_>>(),
        "same body shape"
    );
    for body in [&missing.text(), &forbidden.text()] {
        assert!(!body.contains("alice") && !body.contains("bob") && !body.contains("secret"));
    }
    let ok = http
        .post(gw.addr, path, &[("x-api-key", "alice-secret")], setosa())
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text());
    // auth = false: no key needed.
    let open = http
        .post(gw.addr, "/apps/open/predict", &[], setosa())
        .await;
    assert_eq!(open.status, StatusCode::OK);
    assert_eq!(s.hits(), 2, "refused requests must not reach the model");

    // carol: burst 2, then 429 with Retry-After.
    for _ in 0..2 {
        let r = http
            .post(gw.addr, path, &[("x-api-key", "carol-secret")], setosa())
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let r = http
        .post(gw.addr, path, &[("x-api-key", "carol-secret")], setosa())
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let after: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(after >= 1);
    assert_eq!(r.json()["error"]["code"], "rate_limited");
    // alice is not limited by carol's bucket.
    let r = http
        .post(gw.addr, path, &[("x-api-key", "alice-secret")], setosa())
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_limit_413() {
    let s = stub(model("iris", "1")).await;
    let cfg = format!(
        "[server]\nmax_body_bytes = 300\n\n{}",
        app("iris", "", &upstream("v1", &s.url(), ""))
    );
    let gw = gateway(&cfg, &[]).await;
    let http = Http::new();
    let r = http
        .post(gw.addr, "/apps/iris/predict", &[], setosa())
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let big = json!([setosa(), setosa(), setosa(), setosa()]);
    let r = http.post(gw.addr, "/apps/iris/predict", &[], big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(r.json()["error"]["code"], "payload_too_large");
    assert_eq!(s.hits(), 1);
}

/// A client that declares a body and stops sending it (issue 22.1) gets 408 and a closed connection
/// once `body_read_timeout_ms` passes with no bytes, and the gateway goes on answering others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_request_body_times_out_with_408() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = stub(model("iris", "1")).await;
    let cfg = format!(
        "[server]\nbody_read_timeout_ms = 300\n\n{}",
        app("iris", "", &upstream("v1", &s.url(), ""))
    );
    let gw = gateway(&cfg, &[]).await;
    let mut stalled = Vec::new();
    for _ in 0..4 {
        let mut c = tokio::net::TcpStream::connect(gw.addr).await.unwrap();
        c.write_all(
            b"POST /apps/iris/predict HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{\"sepal_length\":",
        )
        .await
        .unwrap();
        stalled.push(c);
    }
    for mut c in stalled {
        let mut answer = Vec::new();
        // The gateway answers and closes: read to EOF (bounded, so a gateway that never answers fails).
        tokio::time::timeout(
            std::time::Duration::from_secs(60),
            c.read_to_end(&mut answer),
        )
        .await
        .expect("the stalled connection was neither answered nor closed")
        .unwrap();
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    }
    let r = Http::new()
        .post(gw.addr, "/apps/iris/predict", &[], setosa())
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_docs_and_routes() {
    let s = stub(model("iris", "1")).await;
    let gw = gateway(&app("iris", "", &upstream("v1", &s.url(), "")), &[]).await;
    let http = Http::new();
    let r = http.get(gw.addr, "/health").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["status"], "ok");
    let r = http.get(gw.addr, "/docs").await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.headers["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = r.text();
    for needle in [
        "/apps/iris/predict",
        "sepal_length",
        "petal_width",
        "setosa",
        "iris_features",
    ] {
        assert!(html.contains(needle), "docs lack {needle}");
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "docs must be self-contained"
    );
    // Issue 20.2: security headers; the CSP admits the page's one inline stylesheet by its hash.
    let header = |k: &str| {
        r.headers
            .get(k)
            .unwrap_or_else(|| panic!("no {k} header"))
            .to_str()
            .unwrap()
            .to_string()
    };
    let csp = header("content-security-policy");
    assert!(
        csp.starts_with("default-src 'none'; style-src 'sha256-")
            && csp.contains("frame-ancestors 'none'")
            && !csp.contains("unsafe"),
        "{csp}"
    );
    let style = html
        .split_once("<style>")
        .and_then(|(_, rest)| rest.split_once("</style>"))
        .map(|(css, _)| css)
        .expect("an inline stylesheet");
    assert_eq!(style, homeml_gateway::openapi::DOCS_STYLE);
    assert_eq!(header("x-content-type-options"), "nosniff");
    assert_eq!(header("referrer-policy"), "no-referrer");
    assert_eq!(header("x-frame-options"), "DENY");
    assert_eq!(
        http.get(gw.addr, "/nope").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        http.get(gw.addr, "/apps/iris/predict").await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_passes_openapi_spec_validator() {
    let s = stub(model("iris", "1")).await;
    let cfg = format!(
        "[auth]\n[[auth.keys]]\nname = \"k\"\nsha256 = \"{}\"\napps = [\"*\"]\n\n{}{}",
        sha256_hex("k"),
        app("iris", "description = \"Iris species from flower measurements\"", &upstream("v1", &s.url(), "")),
        "[[apps]]\nname = \"churn\"\nauth = false\n[[apps.features]]\nname = \"plan\"\ntype = \"string\"\ncategories = [\"free\", \"pro\"]\ndefault = \"free\"\n[[apps.features]]\nname = \"seats\"\ntype = \"int\"\nmin = 1\n[[apps.features]]\nname = \"active\"\ntype = \"bool\"\nrequired = false\ndefault = true\n[apps.output]\nlabels = [\"stays\", \"leaves\"]\nthreshold = 0.5\n[[apps.upstreams]]\nurl = \"http://127.0.0.1:9\"\nprotocol = \"mlflow\"\n",
    );
    let gw = gateway(&cfg, &[]).await;
    let http = Http::new();
    let r = http.get(gw.addr, "/openapi.json").await;
    assert_eq!(r.status, StatusCode::OK);
    let doc = r.json();
    assert_eq!(doc["openapi"], "3.1.0");
    let iris = &doc["components"]["schemas"]["iris_features"];
    assert_eq!(
        iris["properties"]
            .as_object()
            .unwrap()
            .keys()
            .collect::<Vec<_>>(),
        vec!["petal_length", "petal_width", "sepal_length", "sepal_width"]
    );
    assert_eq!(
        iris["required"],
        json!(["sepal_length", "sepal_width", "petal_length"])
    );
    assert_eq!(
        doc["components"]["schemas"]["churn_features"]["properties"]["plan"]["enum"],
        json!(["free", "pro", null])
    );
    assert!(doc["paths"]["/apps/churn/predict"]["post"]
        .get("security")
        .is_none());
    assert!(doc["paths"]["/apps/iris/predict"]["post"]["security"].is_array());

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("openapi.json");
    std::fs::write(&file, &r.body).unwrap();
    let py = python();
    let out = std::process::Command::new(&py)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {} (set HOMEML_PYTHON or run scripts/setup-venv.sh): {e}",
                py.display()
            )
        });
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // And the validator can fail: a broken document is refused.
    let mut broken = doc.clone();
    broken["paths"]["/apps/iris/predict"]["post"]["responses"] = json!("nope");
    std::fs::write(&file, broken.to_string()).unwrap();
    let out = std::process::Command::new(&py)
        .args(["-m", "openapi_spec_validator"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool() {
    let s = stub(model("iris", "1")).await;
    let hung = stub(Behavior::Hang).await;
    let cfg = format!(
        "{}[apps.shadow]\nurl = \"{}\"\ntimeout_ms = 200\n",
        app("iris", "", &upstream("v1", &s.url(), "")),
        hung.url()
    );
    let gw = gateway(&cfg, &[]).await;
    let http = Http::new();
    for _ in 0..5 {
        http.post(gw.addr, "/apps/iris/predict", &[], setosa())
            .await;
    }
    http.post(gw.addr, "/apps/iris/predict", &[], json!({}))
        .await;
    assert!(
        eventually(|| gw
            .gateway
            .metrics()
            .render()
            .contains("homeml_gateway_shadow_errors_total{app=\"iris\"} 5"))
        .await
    );
    let r = http.get(gw.addr, "/metrics").await;
    assert_eq!(r.status, StatusCode::OK);
    let text = r.text();
    assert_eq!(
        metric(
            &text,
            "homeml_gateway_requests_total{app=\"iris\",upstream=\"v1\",status=\"200\"}"
        ),
        Some(5.0)
    );
    assert_eq!(
        metric(
            &text,
            "homeml_gateway_requests_total{app=\"iris\",upstream=\"none\",status=\"422\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        metric(
            &text,
            "homeml_gateway_request_duration_seconds_count{app=\"iris\"}"
        ),
        Some(6.0)
    );
    use std::io::Write;
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is needed (apt-get install prometheus; scripts/test.sh installs it)");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_example_config_loads() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/gateway.toml");
    let cfg = homeml_gateway::GatewayConfig::from_path(&path).unwrap();
    assert_eq!(cfg.apps[0].name, "iris");
    assert_eq!(cfg.apps[0].features.len(), 4);
    // Gateway::new would read HOMEML_GATEWAY_KEY_DEMO; the env-key path is unit-tested in auth.rs
    // (setting variables here would race with other test threads).
    assert_eq!(
        homeml_gateway::auth::hash_key_hex("change-me"),
        cfg.auth.unwrap().keys[1].sha256.clone().unwrap()
    );
}
