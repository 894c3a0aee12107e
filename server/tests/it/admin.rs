//! Issue 20.1 over real HTTP: the model-management routes (`/v2/repository/...`) behind the admin token;
//! open on loopback without one, 403 on a non-loopback address without one.

use crate::support;

use homeml_server::AdminToken;
use serde_json::json;
use support::*;

async fn repo(addr: std::net::SocketAddr, path: &str, auth: Option<&str>) -> Answer {
    let headers: Vec<(&str, &str)> = auth.map(|a| ("authorization", a)).into_iter().collect();
    send(addr, "POST", path, &headers, "").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_guards_load_unload_and_index() {
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("m"), json!({"width": 2}));
    let flavor = LinFlavor::default();
    let mut cfg = config(vec![model("lin", &dir.path().join("m"))]);
    cfg.admin_token = AdminToken::new("s3cret-token");
    let server = start(cfg, &flavor).await;
    let addr = server.addr();

    for path in [
        "/v2/repository/index",
        "/v2/repository/models/lin/unload",
        "/v2/repository/models/lin/load",
    ] {
        let a = repo(addr, path, None).await;
        assert_eq!(a.status, 401, "{path}: {}", a.text());
        assert!(
            a.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "{path}"
        );
        assert!(a.json()["error"].as_str().unwrap().contains("Bearer"));
        for wrong in [
            "Bearer s3cret-toke",
            "Bearer s3cret-token2",
            "Basic s3cret-token",
        ] {
            let a = repo(addr, path, Some(wrong)).await;
            assert_eq!(a.status, 401, "{path} {wrong}: {}", a.text());
        }
    }
    // Refused calls changed nothing: the model still serves.
    assert_eq!(infer_v2(addr, "lin", &[vec![1.0, 2.0]]).await.status, 200);

    let a = repo(
        addr,
        "/v2/repository/models/lin/unload",
        Some("Bearer s3cret-token"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(infer_v2(addr, "lin", &[vec![1.0, 2.0]]).await.status, 503);
    let a = repo(addr, "/v2/repository/index", Some("Bearer s3cret-token")).await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(a.json()[0]["state"], "UNAVAILABLE");
    let a = repo(
        addr,
        "/v2/repository/models/lin/load",
        Some("bearer s3cret-token"),
    )
    .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(infer_v2(addr, "lin", &[vec![1.0, 2.0]]).await.status, 200);
    // Inference and metadata never need the token.
    assert_eq!(get(addr, "/v2/models/lin").await.status, 200);
    server.shutdown_and_wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_token_loopback_is_open_and_other_addresses_are_closed() {
    let dir = tempfile::tempdir().unwrap();
    write_model(&dir.path().join("m"), json!({"width": 2}));
    let flavor = LinFlavor::default();

    // Loopback, no token: as before.
    let server = start(config(vec![model("lin", &dir.path().join("m"))]), &flavor).await;
    let a = repo(server.addr(), "/v2/repository/models/lin/unload", None).await;
    assert_eq!(a.status, 200, "{}", a.text());
    server.shutdown_and_wait().await;

    // Every address, no token: 403 saying how to enable the routes; reached over loopback here.
    let mut cfg = config(vec![model("lin", &dir.path().join("m"))]);
    cfg.host = "0.0.0.0".into();
    let server = start(cfg, &flavor).await;
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], server.addr().port()).into();
    for path in [
        "/v2/repository/index",
        "/v2/repository/models/lin/unload",
        "/v2/repository/models/lin/load",
    ] {
        let a = repo(addr, path, Some("Bearer anything")).await;
        assert_eq!(a.status, 403, "{path}: {}", a.text());
        let msg = a.json()["error"].as_str().unwrap().to_string();
        assert!(
            msg.contains("--admin-token") && msg.contains("HOMEML_ADMIN_TOKEN"),
            "{msg}"
        );
    }
    assert_eq!(infer_v2(addr, "lin", &[vec![1.0, 2.0]]).await.status, 200);
    server.shutdown_and_wait().await;

    // Every address with a token: the token opens them.
    let mut cfg = config(vec![model("lin", &dir.path().join("m"))]);
    cfg.host = "0.0.0.0".into();
    cfg.admin_token = AdminToken::new("t0ken");
    let server = start(cfg, &flavor).await;
    let addr: std::net::SocketAddr = ([127, 0, 0, 1], server.addr().port()).into();
    let a = repo(addr, "/v2/repository/index", Some("Bearer t0ken")).await;
    assert_eq!(a.status, 200, "{}", a.text());
    server.shutdown_and_wait().await;
}
