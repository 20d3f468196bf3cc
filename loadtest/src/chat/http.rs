//! The HTTP calls a run needs before it connects: dev login and
//! conversation creation, many at once with a bounded concurrency.

use crate::world::{ConvKind, World};
use anyhow::{bail, Context};
use futures::{stream, StreamExt, TryStreamExt};
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;

/// A client of our HTTP API.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base: String,
}

#[derive(Deserialize)]
struct Token {
    token: String,
}

#[derive(Deserialize)]
struct Conversation {
    id: String,
    last_seq: u64,
}

impl Api {
    /// A client of the server at `base` (`http://127.0.0.1:8080`).
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Api {
            client,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    async fn post<T: for<'de> Deserialize<'de>>(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> anyhow::Result<T> {
        let mut req = self.client.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.with_context(|| format!("POST {path}"))?;
        let status = resp.status();
        if !status.is_success() {
            let text = resp.text().await.unwrap_or_default();
            bail!("POST {path}: {status}: {text}");
        }
        Ok(resp.json().await?)
    }

    /// `POST path` with a JSON body: the status and the JSON answer
    /// (`null` when it is not JSON), whatever the status.
    pub async fn post_status(
        &self,
        path: &str,
        token: Option<&str>,
        body: serde_json::Value,
    ) -> anyhow::Result<(u16, serde_json::Value)> {
        let mut req = self.client.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.with_context(|| format!("POST {path}"))?;
        let status = resp.status().as_u16();
        let value = resp.json().await.unwrap_or(serde_json::Value::Null);
        Ok((status, value))
    }

    /// `GET path` without a token: the status.
    pub async fn get_status(&self, path: &str) -> anyhow::Result<u16> {
        let resp = self
            .client
            .get(format!("{}{path}", self.base))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .with_context(|| format!("GET {path}"))?;
        Ok(resp.status().as_u16())
    }

    /// A token for `user` on device `device` (dev login).
    pub async fn login(&self, user: &str, device: &str) -> anyhow::Result<String> {
        let t: Token = self
            .post(
                "/v1/dev/token",
                None,
                json!({"user": user, "device": device}),
            )
            .await?;
        Ok(t.token)
    }

    /// Logs every device of `world` in, `concurrency` at a time.
    pub async fn login_all(&self, world: &World, concurrency: usize) -> anyhow::Result<()> {
        stream::iter(world.devices.iter())
            .map(|d| async move {
                let token = self.login(&d.user, "load").await?;
                let _ = d.token.set(token);
                anyhow::Ok(())
            })
            .buffer_unordered(concurrency)
            .try_collect::<()>()
            .await
    }

    /// Creates every conversation of `world` as its first member, and
    /// checks that each one starts empty (the checks count seqs from 1).
    pub async fn create_all(&self, world: &World, concurrency: usize) -> anyhow::Result<()> {
        stream::iter(world.convs.iter().enumerate())
            .map(|(i, c)| async move {
                let creator = &world.devices[c.members[0]];
                let others: Vec<&str> = c.members[1..]
                    .iter()
                    .map(|&m| world.devices[m].user.as_str())
                    .collect();
                let body = match c.kind {
                    ConvKind::Direct => json!({"kind": "direct", "members": others}),
                    ConvKind::Group => {
                        json!({"kind": "group", "title": format!("load {i}"), "members": others})
                    }
                };
                let token = creator.token.get().context("not logged in")?;
                let conv: Conversation = self.post("/v1/conversations", Some(token), body).await?;
                if conv.last_seq != 0 {
                    bail!(
                        "conversation {} already has messages: use a fresh --prefix",
                        conv.id
                    );
                }
                let _ = c.id.set(conv.id);
                anyhow::Ok(())
            })
            .buffer_unordered(concurrency)
            .try_collect::<()>()
            .await
    }
}
