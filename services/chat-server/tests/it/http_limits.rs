//! Hostile HTTP clients (issue 15): half-sent request heads, stalled
//! bodies, idle keep-alive connections, responses nobody reads, and floods
//! of idle connections past the connection cap (`[server]` settings,
//! `chat-server/src/serve/`). Spoken over raw TCP, so that the test
//! decides exactly which bytes are sent and when.

use crate::harness::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn addr(s: &Server) -> String {
    s.base.trim_start_matches("http://").to_string()
}

async fn connect(s: &Server) -> TcpStream {
    TcpStream::connect(addr(s)).await.unwrap()
}

/// Reads (and keeps) whatever comes until the server closes the
/// connection, by EOF or reset: what was read, and how long after the call
/// it closed; `None` when it was still open at `limit`.
async fn read_until_closed(
    stream: &mut (impl AsyncRead + Unpin),
    limit: Duration,
) -> (Vec<u8>, Option<Duration>) {
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let left = limit.saturating_sub(start.elapsed());
        match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return (got, None),
            Ok(Ok(0)) | Ok(Err(_)) => return (got, Some(start.elapsed())),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
        }
    }
}

/// Reads one response with a `Content-Length` off a keep-alive
/// connection: its status and body.
async fn read_response(stream: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("a response within the wait")
            .unwrap();
        assert!(n > 0, "closed before a whole response head");
        got.extend_from_slice(&buf[..n]);
    };
    let head = String::from_utf8_lossy(&got[..head_end]).to_ascii_lowercase();
    let status = head[9..12].parse().unwrap();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .expect("a content-length")
        .trim()
        .parse()
        .unwrap();
    while got.len() < head_end + length {
        let n = tokio::time::timeout(WAIT, stream.read(&mut buf))
            .await
            .expect("a response body within the wait")
            .unwrap();
        assert!(n > 0, "closed in a response body");
        got.extend_from_slice(&buf[..n]);
    }
    (status, got[head_end..head_end + length].to_vec())
}

const HEALTHZ: &[u8] = b"GET /healthz HTTP/1.1\r\nHost: chat\r\n\r\n";

/// The value of `chat_shed_total{kind="…"}`, 0 when absent.
fn shed(metrics: &str, kind: &str) -> u64 {
    let prefix = format!("chat_shed_total{{kind=\"{kind}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .map_or(0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn a_request_head_not_whole_within_the_header_timeout_is_closed() {
    const T: Duration = Duration::from_millis(1000);
    let s = Server::start_with(|c| c.server.header_read_timeout_ms = 1000).await;
    // Half a head, then nothing.
    let mut half = connect(&s).await;
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: chat\r\nX-Pad: ")
        .await
        .unwrap();
    // Nothing at all: the idle flood of the issue.
    let mut silent = connect(&s).await;
    // A head a byte at a time, each byte well within the timeout
    // (slowloris): the clock runs for the whole head, not per byte.
    let (mut trickle, mut trickle_w) = connect(&s).await.into_split();
    let writer = tokio::spawn(async move {
        for b in b"GET /healthz HTTP/1.1\r\nHost: chat\r\nX-Pad: "
            .iter()
            .cycle()
            .take(100)
        {
            if trickle_w.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });

    for (name, closed) in [
        ("half a head", read_until_closed(&mut half, 3 * T).await.1),
        ("nothing", read_until_closed(&mut silent, 3 * T).await.1),
        (
            "a trickled head",
            read_until_closed(&mut trickle, 3 * T).await.1,
        ),
    ] {
        assert!(
            closed.is_some(),
            "a connection that sent {name} was still open 3 s after the 1 s header timeout"
        );
    }
    writer.abort();
    // A whole request on a fresh connection is served as always.
    let mut ok = connect(&s).await;
    ok.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut ok).await.0, 200);
    assert!(shed(&s.metrics().await, "http_header_timeout") >= 3);
}

#[tokio::test]
async fn a_request_body_that_stalls_is_answered_408_and_closed() {
    const T: Duration = Duration::from_millis(1000);
    let s = Server::start_with(|c| {
        c.server.body_timeout_ms = 1000;
        c.server.header_read_timeout_ms = 30_000;
        c.server.http_idle_timeout_ms = 30_000;
    })
    .await;
    // The route reads its body (a JSON object) before answering.
    let mut conn = connect(&s).await;
    conn.write_all(
        b"POST /v1/dev/token HTTP/1.1\r\nHost: chat\r\nContent-Type: application/json\r\n\
          Content-Length: 1000\r\n\r\n{\"user\": \"al",
    )
    .await
    .unwrap();
    let (got, closed) = read_until_closed(&mut conn, 3 * T).await;
    let got = String::from_utf8_lossy(&got);
    assert!(
        closed.is_some(),
        "still open 3 s after the body stalled (1 s body timeout); read {got:?}"
    );
    assert!(got.starts_with("HTTP/1.1 408"), "{got}");
    assert!(closed.unwrap() >= T / 2, "closed after {closed:?}");

    // A body that arrives slowly, but never stalls that long, is read.
    let body = json!({"user": "alice", "device": "phone"}).to_string();
    let mut slow = connect(&s).await;
    slow.write_all(
        format!(
            "POST /v1/dev/token HTTP/1.1\r\nHost: chat\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    for chunk in body.as_bytes().chunks(body.len() / 4 + 1) {
        tokio::time::sleep(T * 2 / 5).await;
        slow.write_all(chunk).await.unwrap();
    }
    let (status, answer) = read_response(&mut slow).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&answer));
    assert!(shed(&s.metrics().await, "http_body_timeout") >= 1);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() {
    const T: Duration = Duration::from_millis(1000);
    let s = Server::start_with(|c| {
        c.server.http_idle_timeout_ms = 1000;
        c.server.header_read_timeout_ms = 30_000;
    })
    .await;
    let mut conn = connect(&s).await;
    conn.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut conn).await.0, 200);
    // Kept alive: a second request within the timeout is served.
    tokio::time::sleep(T / 4).await;
    conn.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut conn).await.0, 200);
    // Then nothing.
    let (_, closed) = read_until_closed(&mut conn, 3 * T).await;
    assert!(
        closed.is_some(),
        "an idle keep-alive connection was still open 3 s after the 1 s idle timeout"
    );
    assert!(closed.unwrap() >= T / 2, "closed after {closed:?}");
    assert!(shed(&s.metrics().await, "http_idle_timeout") >= 1);
}

/// The header clock of a request after the first starts at its first byte:
/// the wait between requests is the idle timeout's (load balancers keep
/// idle connections to their backends for a minute or more, and a backend
/// that closes them sooner races their next request).
#[tokio::test]
async fn a_keep_alive_connection_may_wait_longer_than_the_header_timeout_between_requests() {
    let s = Server::start_with(|c| {
        c.server.header_read_timeout_ms = 500;
        c.server.http_idle_timeout_ms = 30_000;
    })
    .await;
    let mut conn = connect(&s).await;
    conn.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut conn).await.0, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    conn.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut conn).await.0, 200);
}

/// A client that asks for a large response and stops reading it (a slow
/// read) no longer holds its connection: once nothing moves for the idle
/// timeout, the server closes it.
#[tokio::test]
async fn a_client_that_stops_reading_a_response_is_cut_off() {
    const SIZE: usize = 16 * 1024 * 1024;
    let s = Server::start_with(|c| c.server.http_idle_timeout_ms = 1000).await;
    let alice = s.user("alice", "phone").await;
    let (status, t) = alice
        .post(
            "/v1/attachments",
            json!({"content_type": "application/octet-stream", "size": SIZE}),
        )
        .await;
    assert_eq!(status, 200, "{t}");
    let r = alice
        .http
        .put(t["upload_url"].as_str().unwrap())
        .body(vec![7u8; SIZE])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let id = t["id"].as_str().unwrap();
    let (status, location) = alice.location(&format!("/v1/attachments/{id}")).await;
    assert_eq!(status, 302);
    let location = location.unwrap();
    let path = &location[location.find("/v1/").unwrap()..];

    // A small receive buffer, so that the server's writes stall soon.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(16 * 1024).unwrap();
    let mut conn = socket.connect(addr(&s).parse().unwrap()).await.unwrap();
    conn.write_all(format!("GET {path} HTTP/1.1\r\nHost: chat\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut first = [0u8; 1024];
    let n = tokio::time::timeout(WAIT, conn.read(&mut first))
        .await
        .unwrap()
        .unwrap();
    assert!(first[..n].starts_with(b"HTTP/1.1 200"));
    // Stop reading for three times the idle timeout, then take what the
    // buffers held.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let (rest, closed) = read_until_closed(&mut conn, WAIT).await;
    assert!(
        n + rest.len() < SIZE,
        "a client that stopped reading for 3 s (1 s idle timeout) got the whole {SIZE} bytes"
    );
    assert!(closed.is_some());
    assert!(shed(&s.metrics().await, "http_idle_timeout") >= 1);
}

/// Past `max_connections` the server accepts nothing more: the extra
/// connections wait in the kernel's listen queue, costing the process no
/// file descriptor. Idle attackers holding every slot are dropped by the
/// header timeout, and what waited (a health check too) is then served.
#[tokio::test]
async fn past_the_connection_cap_nothing_more_is_accepted_until_the_header_timeout_frees_slots() {
    const CAP: usize = 20;
    const EXTRA: usize = 10;
    const T: Duration = Duration::from_secs(2);
    let s = Server::start_with(|c| {
        c.server.max_connections = Some(CAP);
        c.server.header_read_timeout_ms = 2000;
    })
    .await;
    let t0 = Instant::now();
    let mut attackers = Vec::new();
    for _ in 0..CAP + EXTRA {
        let mut conn = connect(&s).await;
        attackers.push(tokio::spawn(async move {
            read_until_closed(&mut conn, 4 * T)
                .await
                .1
                .map(|_| t0.elapsed())
        }));
    }
    let base = s.base.clone();
    let health = tokio::spawn(async move {
        let r = reqwest::Client::new()
            .get(format!("{base}/healthz"))
            .timeout(4 * T)
            .send()
            .await;
        (r.map(|r| r.status().as_u16()), t0.elapsed())
    });
    // What the server holds, while the attack lasts.
    let node = s._node.as_ref().unwrap();
    let mut most = 0;
    while !attackers.iter().all(|a| a.is_finished()) {
        most = most.max(node.open_connections());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut closed_at = Vec::new();
    for a in attackers {
        closed_at.push(a.await.unwrap());
    }
    let (health, answered_at) = health.await.unwrap();

    // The first CAP were accepted at once and dropped at T; the others
    // were accepted only then, and dropped at 2T.
    let first = closed_at
        .iter()
        .flatten()
        .filter(|t| **t < T * 3 / 2)
        .count();
    let all = closed_at.iter().flatten().count();
    assert_eq!(
        (first, all),
        (CAP, CAP + EXTRA),
        "closed before 1.5 T, and within 4 T: the server held more than {CAP} or kept idle ones \
         ({closed_at:?})"
    );
    assert_eq!(most, CAP, "the most connections held at once");
    assert_eq!(health.ok(), Some(200), "the health check is answered");
    assert!(
        answered_at >= T / 2,
        "the health check was answered at {answered_at:?}, while the cap was full of idle \
         connections"
    );
    let metrics = s.metrics().await;
    assert!(shed(&metrics, "http_connection_cap") >= 1, "{metrics}");
    assert!(shed(&metrics, "http_header_timeout") >= (CAP + EXTRA) as u64);
}

/// A WebSocket holds its connection slot for as long as it is open.
#[tokio::test]
async fn a_websocket_holds_its_connection_slot_until_it_closes() {
    let s = Server::start_with(|c| c.server.max_connections = Some(2)).await;
    // A client that keeps no idle connection, so that it never holds a slot
    // between requests.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let token = |user: &'static str| {
        let (http, base) = (http.clone(), s.base.clone());
        async move {
            let r = http
                .post(format!("{base}/v1/dev/token"))
                .json(&json!({"user": user, "device": "phone"}))
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()["token"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let mut ws1 = Ws::connect(&format!("{}?token={}", s.ws_url(), token("alice").await)).await;
    ws1.handshake().await;
    let mut ws2 = Ws::connect(&format!("{}?token={}", s.ws_url(), token("bob").await)).await;
    ws2.handshake().await;
    let healthz = format!("{}/healthz", s.base);
    let r = http
        .get(&healthz)
        .timeout(Duration::from_millis(1500))
        .send()
        .await;
    assert!(
        r.is_err(),
        "answered while both slots were held by WebSockets: {r:?}"
    );
    futures::SinkExt::close(&mut ws1.stream).await.unwrap();
    let r = http.get(&healthz).timeout(WAIT).send().await.unwrap();
    assert_eq!(r.status(), 200);
}

/// The HTTP timeouts end with the upgrade: a WebSocket silent for longer
/// than all of them stays open (it has `gateway.idle_timeout_ms`).
#[tokio::test]
async fn a_websocket_is_not_cut_by_the_http_timeouts() {
    let s = Server::start_with(|c| {
        c.server.header_read_timeout_ms = 300;
        c.server.http_idle_timeout_ms = 300;
        c.server.body_timeout_ms = 300;
    })
    .await;
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        ws.send_message(&conv, "m1", "still here").await["type"],
        "sent"
    );
}

/// Stopping a node closes its idle and half-read connections at once, lets
/// a request in progress finish, and is not held up by WebSockets.
#[tokio::test]
async fn a_node_stops_promptly_with_connections_open() {
    let mut s = Server::start().await;
    let mut idle = connect(&s).await;
    idle.write_all(HEALTHZ).await.unwrap();
    assert_eq!(read_response(&mut idle).await.0, 200);
    let mut half = connect(&s).await;
    half.write_all(b"GET /healthz HTTP/1.1\r\nHost: chat\r\n")
        .await
        .unwrap();
    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    // A request whose handler waits for the rest of its body.
    let body = json!({"user": "alice", "device": "phone"}).to_string();
    let (first, rest) = body.as_bytes().split_at(10);
    let mut busy = connect(&s).await;
    busy.write_all(
        format!(
            "POST /v1/dev/token HTTP/1.1\r\nHost: chat\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    busy.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let node = s._node.take().unwrap();
    let addr = node.addr;
    let start = Instant::now();
    let stopping = tokio::spawn(node.stop());
    for (name, conn) in [("idle", &mut idle), ("half-read", &mut half)] {
        let (_, closed) = read_until_closed(conn, Duration::from_secs(2)).await;
        assert!(closed.is_some(), "the {name} connection is still open");
    }
    // The request in progress is finished, then its connection closed.
    busy.write_all(rest).await.unwrap();
    let (got, closed) = read_until_closed(&mut busy, Duration::from_secs(2)).await;
    let got = String::from_utf8_lossy(&got);
    assert!(got.starts_with("HTTP/1.1 200"), "{got}");
    assert!(closed.is_some());
    stopping.await.unwrap();
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(4),
        "stopping took {took:?} (past 5 s the node aborts its tasks)"
    );
    assert!(TcpStream::connect(addr).await.is_err(), "still accepting");
}
