//! OpenTelemetry export: a server with `telemetry.otlp_endpoint` set sends
//! its spans to a collector (here a small OTLP/HTTP JSON receiver), and the
//! sequencer's span continues the trace of the gateway's append, through the
//! `traceparent` header of the log record.

use crate::harness::*;
use std::sync::{Arc, Mutex};

async fn collector() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let received: Arc<Mutex<Vec<serde_json::Value>>> = Default::default();
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                if let Ok(v) = serde_json::from_str(&body) {
                    sink.lock().unwrap().push(v);
                }
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (format!("http://{addr}/v1/traces"), received)
}

/// (name, traceId) of every span received.
fn spans(received: &[serde_json::Value]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for batch in received {
        for rs in batch["resourceSpans"].as_array().into_iter().flatten() {
            for ss in rs["scopeSpans"].as_array().into_iter().flatten() {
                for span in ss["spans"].as_array().into_iter().flatten() {
                    out.push((
                        span["name"].as_str().unwrap_or("").to_string(),
                        span["traceId"].as_str().unwrap_or("").to_string(),
                    ));
                }
            }
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_are_exported_and_one_trace_crosses_the_log() {
    let (endpoint, received) = collector().await;
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().display().to_string();
    let (mut child, base) = spawn_chatctl(
        &["serve", "--data-dir", &data],
        &[
            ("CHAT__TELEMETRY__OTLP_ENDPOINT", endpoint.as_str()),
            ("OTEL_BSP_SCHEDULE_DELAY", "200"),
            ("RUST_LOG", "warn"),
        ],
    );
    let s = Server {
        _node: None,
        base,
        http: reqwest::Client::new(),
        _dir: tempfile::tempdir().unwrap(),
    };
    let alice = s.user("alice", "phone").await;
    let conv = alice.direct("bob").await;
    alice.send(&conv, "traced", "hello").await;
    let found = eventually(|| async {
        let all = spans(&received.lock().unwrap());
        let appends: Vec<&(String, String)> = all.iter().filter(|(n, _)| n == "append").collect();
        let sequenced: Vec<&(String, String)> =
            all.iter().filter(|(n, _)| n == "sequence").collect();
        // Some append's trace is continued by a sequencer span.
        appends
            .iter()
            .find(|(_, t)| sequenced.iter().any(|(_, s)| s == t))
            .map(|(_, t)| t.clone())
    })
    .await;
    assert_eq!(found.len(), 32, "a W3C trace id: {found}");
    let batch = received.lock().unwrap()[0].clone();
    let service = batch["resourceSpans"][0]["resource"]["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["key"] == "service.name")
        .cloned()
        .unwrap();
    assert_eq!(service["value"]["stringValue"], "chat");
    let _ = child.kill();
    let _ = child.wait();
}
