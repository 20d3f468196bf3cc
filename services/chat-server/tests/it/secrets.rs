//! No default secret in a running server (issue 15): a one-box server
//! makes its own token and blob-URL secrets on first start and keeps them
//! in its data folder; a gateway of a fleet without a configured secret
//! refuses to start; blob URLs are signed with a key of their own; dev
//! login runs only on a loopback address.

use crate::harness::*;
use chat_ports::BlobStore;
use chat_server::{Config, Node};
use serde_json::json;

fn one_box(dir: &std::path::Path) -> Config {
    let mut config = Config::default();
    config.server.listen = "127.0.0.1:0".into();
    config.server.data_dir = dir.to_path_buf();
    config
}

async fn status_with(base: &str, token: &str) -> u16 {
    reqwest::Client::new()
        .get(format!("{base}/v1/conversations"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn a_one_box_server_makes_its_own_secret_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(one_box(dir.path())).await.unwrap();
    let base = format!("http://{}", node.addr);
    let token = reqwest::Client::new()
        .post(format!("{base}/v1/dev/token"))
        .json(&json!({"user": "alice", "device": "phone"}))
        .send()
        .await
        .unwrap()
        .json::<serde_json::Value>()
        .await
        .unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(status_with(&base, &token).await, 200);
    // The secret that once was built in signs nothing here.
    let forged = chat_gateway::auth::Tokens::new("dev-secret-change-me", 3600)
        .mint("alice", "phone")
        .unwrap();
    assert_eq!(status_with(&base, &forged).await, 401);
    node.stop().await;

    // Kept: the same data folder, the same secret.
    use std::os::unix::fs::PermissionsExt;
    let file = dir.path().join("secrets.json");
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{}", file.display());
    let node = Node::start(one_box(dir.path())).await.unwrap();
    let base = format!("http://{}", node.addr);
    assert_eq!(status_with(&base, &token).await, 200);
    node.stop().await;
}

#[tokio::test]
async fn a_fleet_gateway_without_a_secret_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = one_box(dir.path());
    // Never reached: the check comes first.
    config.engines.log = "kafka://127.0.0.1:1".into();
    config.engines.store = "postgres://postgres@127.0.0.1:1/none".into();
    config.engines.realtime = "redis://127.0.0.1:1/".into();
    let started = Node::start_roles(config, chat_server::Roles::gateway(), None).await;
    let e = format!("{:#}", started.err().expect("refused"));
    assert!(e.contains("gateway.jwt_secret"), "{e}");
}

#[tokio::test]
async fn a_short_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = one_box(dir.path());
    config.gateway.jwt_secret = "short".into();
    let e = format!("{:#}", Node::start(config).await.err().expect("refused"));
    assert!(e.contains("at least"), "{e}");
}

/// Blob URLs were once signed with a key derived from the token secret: a
/// holder of the token secret could forge them. Now the key is its own.
#[tokio::test]
async fn blob_urls_are_not_signed_with_the_token_secret() {
    const SECRET: &str = "a-token-secret-someone-knows";
    let s = Server::start_with(|c| c.gateway.jwt_secret = SECRET.into()).await;
    let alice = s.user("alice", "phone").await;
    let (status, t) = alice
        .post(
            "/v1/attachments",
            json!({"content_type": "text/plain", "size": 5}),
        )
        .await;
    assert_eq!(status, 200, "{t}");
    let upload = t["upload_url"].as_str().unwrap();
    let r = alice.http.put(upload).body("hello").send().await.unwrap();
    assert_eq!(r.status(), 200);
    let key = upload
        .split("/v1/blobs/")
        .nth(1)
        .and_then(|rest| rest.split('?').next())
        .unwrap();
    // A download URL signed the old way, from the token secret.
    let mut old_key = b"chat blob urls\0".to_vec();
    old_key.extend_from_slice(SECRET.as_bytes());
    let blobs_dir = tempfile::tempdir().unwrap();
    let forger = chat_blobs::local::LocalBlobs::open(blobs_dir.path(), &s.base, &old_key).unwrap();
    let forged = forger
        .download_url(key, chat_domain::time::now_ms() + 60_000)
        .await
        .unwrap();
    let r = reqwest::get(&forged).await.unwrap();
    assert_eq!(r.status(), 403, "{forged}");
}

#[tokio::test]
async fn dev_login_runs_only_on_a_loopback_address() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = one_box(dir.path());
    config.server.listen = "0.0.0.0:0".into();
    config.gateway.dev_login = Some(true);
    let e = format!("{:#}", Node::start(config).await.err().expect("refused"));
    assert!(e.contains("loopback"), "{e}");

    // Unset: off on an address others reach.
    let dir = tempfile::tempdir().unwrap();
    let mut config = one_box(dir.path());
    config.server.listen = "0.0.0.0:0".into();
    config.gateway.attachments.public_url = Some("https://chat.example.com".into());
    let node = Node::start(config).await.unwrap();
    let r = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/v1/dev/token",
            node.addr.port()
        ))
        .json(&json!({"user": "alice", "device": "phone"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    node.stop().await;
}

/// `chatctl token` signs with the secret a one-box server keeps, read from
/// its data folder; it never makes one of its own.
#[tokio::test]
async fn chatctl_token_signs_with_the_secret_the_server_keeps() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::start(one_box(dir.path())).await.unwrap();
    let base = format!("http://{}", node.addr);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chatctl"))
        .args(["token", "--user", "alice", "--device", "cli", "--data-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert_eq!(status_with(&base, &token).await, 200);
    node.stop().await;

    // A folder no server made secrets in: refused, and nothing written.
    let empty = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_chatctl"))
        .args(["token", "--user", "alice", "--device", "cli", "--data-dir"])
        .arg(empty.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(!empty.path().join("secrets.json").exists());
}

#[tokio::test]
async fn a_published_secret_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = one_box(dir.path());
    config.gateway.jwt_secret = "dev-secret-change-me".into();
    let e = format!("{:#}", Node::start(config).await.err().expect("refused"));
    assert!(e.contains("published"), "{e}");
}

/// Attachment URLs were signed on the `Host` header a client sent. Off a
/// loopback address, a gateway on the local blob engine needs
/// `gateway.attachments.public_url` to start, and signs every URL on it,
/// whatever `Host` a request names.
#[tokio::test]
async fn attachment_urls_are_signed_on_the_public_url_never_a_clients_host() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = one_box(dir.path());
    config.server.listen = "0.0.0.0:0".into();
    let e = format!("{:#}", Node::start(config).await.err().expect("refused"));
    assert!(e.contains("gateway.attachments.public_url"), "{e}");

    let s = Server::start_with(|c| {
        c.gateway.attachments.public_url = Some("https://chat.example.com".into());
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let r = reqwest::Client::new()
        .post(format!("{}/v1/attachments", s.base))
        .bearer_auth(&alice.token)
        .header(reqwest::header::HOST, "evil.example")
        .json(&json!({"content_type": "image/png", "size": 10}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let ticket: serde_json::Value = r.json().await.unwrap();
    let url = ticket["upload_url"].as_str().unwrap();
    assert!(
        url.starts_with("https://chat.example.com/v1/blobs/"),
        "{url}"
    );
}
