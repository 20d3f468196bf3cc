//! The few protocol calls the harness makes over HTTP (docs/protocol.md):
//! dev login, creating conversations, sending, history, receipts.

use anyhow::{bail, Context, Result};
use serde_json::{json, Value};
use std::time::Duration;

#[derive(Clone)]
pub struct Http {
    pub client: reqwest::Client,
}

impl Http {
    pub fn new() -> Self {
        Self {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<(u16, Value)> {
        let mut req = self.client.request(method, url);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await?;
        let status = r.status().as_u16();
        let text = r.text().await?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    pub async fn token(&self, base: &str, user: &str, device: &str) -> Result<String> {
        let (status, v) = self
            .call(
                reqwest::Method::POST,
                &format!("{base}/v1/dev/token"),
                None,
                Some(json!({"user": user, "device": device})),
            )
            .await?;
        if status != 200 {
            bail!("dev token: {status} {v}");
        }
        Ok(v["token"].as_str().context("no token")?.to_string())
    }

    /// Creates a conversation; returns its id.
    pub async fn conversation(
        &self,
        base: &str,
        token: &str,
        kind: &str,
        members: &[String],
    ) -> Result<String> {
        let body = if kind == "direct" {
            json!({"kind": "direct", "members": members})
        } else {
            json!({"kind": "group", "title": "faults", "members": members})
        };
        let (status, v) = self
            .call(
                reqwest::Method::POST,
                &format!("{base}/v1/conversations"),
                Some(token),
                Some(body),
            )
            .await?;
        if status != 200 && status != 201 {
            bail!("create conversation: {status} {v}");
        }
        Ok(v["id"].as_str().context("no id")?.to_string())
    }

    /// `POST /v1/messages`; the msg_id once durable.
    pub async fn send(
        &self,
        base: &str,
        token: &str,
        conv: &str,
        client_msg_id: &str,
        body: &str,
    ) -> Result<String> {
        let (status, v) = self
            .call(
                reqwest::Method::POST,
                &format!("{base}/v1/messages"),
                Some(token),
                Some(json!({"conv": conv, "client_msg_id": client_msg_id, "body": body})),
            )
            .await?;
        if status != 200 {
            bail!("send: {status} {v}");
        }
        Ok(v["msg_id"].as_str().context("no msg_id")?.to_string())
    }

    /// The whole history of `conv`, ascending.
    pub async fn history(&self, base: &str, token: &str, conv: &str) -> Result<Vec<Value>> {
        let mut out: Vec<Value> = Vec::new();
        let mut after = 0u64;
        loop {
            let (status, v) = self
                .call(
                    reqwest::Method::GET,
                    &format!("{base}/v1/conversations/{conv}/messages?after={after}&limit=500"),
                    Some(token),
                    None,
                )
                .await?;
            if status != 200 {
                bail!("history: {status} {v}");
            }
            let page = v["messages"].as_array().cloned().unwrap_or_default();
            if let Some(last) = page.last() {
                after = last["seq"].as_u64().unwrap_or(after);
            }
            let done = page.is_empty() || !v["has_more"].as_bool().unwrap_or(false);
            out.extend(page);
            if done {
                return Ok(out);
            }
        }
    }

    /// `GET /v1/conversations/{id}/receipts`: (user, delivered, read).
    pub async fn receipts(
        &self,
        base: &str,
        token: &str,
        conv: &str,
    ) -> Result<Vec<(String, u64, u64)>> {
        let (status, v) = self
            .call(
                reqwest::Method::GET,
                &format!("{base}/v1/conversations/{conv}/receipts"),
                Some(token),
                None,
            )
            .await?;
        if status != 200 {
            bail!("receipts: {status} {v}");
        }
        Ok(v["members"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|m| {
                (
                    m["user"].as_str().unwrap_or_default().to_string(),
                    m["delivered_seq"].as_u64().unwrap_or(0),
                    m["read_seq"].as_u64().unwrap_or(0),
                )
            })
            .collect())
    }
}
