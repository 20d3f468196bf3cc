//! The server's secrets: the HS256 key of tokens (`gateway.jwt_secret`)
//! and the key of the local blob engine's signed URLs
//! (`gateway.blob_url_secret`), two keys so that one cannot forge what the
//! other signs. No secret is built in.
//!
//! A configured secret must be at least [`MIN_BYTES`] long. An unset one
//! is made by a one-box server (the embedded log: one process owns its
//! data folder) from 32 random bytes on first start and kept in
//! `data_dir/secrets.json`, readable by its owner only, so tokens and URLs
//! outlive a restart. Anywhere else (the gateways of a fleet, which must
//! share their secrets) an unset secret stops the start with the setting
//! to make.

use crate::engines::log_is_embedded;
use crate::Config;
use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The shortest secret accepted, bytes.
pub const MIN_BYTES: usize = 16;

/// The file a one-box server keeps its secrets in, in its data folder.
pub const FILE: &str = "secrets.json";

/// Secrets that were once public (the built-in development secret and the
/// sample configuration's): refused wherever they are set.
const KNOWN: &[&str] = &["dev-secret-change-me", "change-me"];

#[derive(Debug, Default, Serialize, Deserialize)]
struct Kept {
    #[serde(default)]
    jwt_secret: String,
    #[serde(default)]
    blob_url_secret: String,
}

/// Fills the unset secrets of `config` (see the module docs) and checks
/// the set ones.
pub fn resolve(config: &mut Config) -> anyhow::Result<()> {
    let one_box = log_is_embedded(config);
    let gateway = &mut config.gateway;
    let unset = gateway.jwt_secret.is_empty() || gateway.blob_url_secret.is_empty();
    if unset && !one_box {
        let which = if gateway.jwt_secret.is_empty() {
            "gateway.jwt_secret"
        } else {
            "gateway.blob_url_secret"
        };
        bail!(
            "{which} is not set: the gateways of a fleet must share their secrets \
             (at least {MIN_BYTES} random bytes each, e.g. CHAT__GATEWAY__JWT_SECRET and \
             CHAT__GATEWAY__BLOB_URL_SECRET); only a one-box server on the embedded log makes \
             its own"
        );
    }
    if unset {
        let wanted = Wanted {
            jwt: gateway.jwt_secret.is_empty(),
            blob: gateway.blob_url_secret.is_empty(),
        };
        let kept = keep(&config.server.data_dir, wanted)?;
        let gateway = &mut config.gateway;
        if gateway.jwt_secret.is_empty() {
            gateway.jwt_secret = kept.jwt_secret;
        }
        if gateway.blob_url_secret.is_empty() {
            gateway.blob_url_secret = kept.blob_url_secret;
        }
    }
    for (name, value) in [
        ("gateway.jwt_secret", &config.gateway.jwt_secret),
        ("gateway.blob_url_secret", &config.gateway.blob_url_secret),
    ] {
        if value.len() < MIN_BYTES {
            bail!("{name} must be at least {MIN_BYTES} bytes long");
        }
        if KNOWN.contains(&value.as_str()) {
            bail!("{name} is a secret that was published with this software; set your own");
        }
    }
    Ok(())
}

/// Which secrets the configuration leaves to the file.
#[derive(Clone, Copy)]
struct Wanted {
    jwt: bool,
    blob: bool,
}

/// The token secret a one-box server keeps in `dir`, for `chatctl token`;
/// an error naming the file when the server never made one.
pub fn kept_token_secret(dir: &Path) -> anyhow::Result<String> {
    let path = dir.join(FILE);
    let text = std::fs::read_to_string(&path).with_context(|| {
        format!(
            "no token secret: set gateway.jwt_secret, or give --data-dir the folder of a \
             server that made its own ({} cannot be read)",
            path.display()
        )
    })?;
    let kept: Kept = serde_json::from_str(&text)
        .with_context(|| format!("{} is not what this server wrote", path.display()))?;
    if kept.jwt_secret.is_empty() {
        bail!("{} holds no token secret", path.display());
    }
    Ok(kept.jwt_secret)
}

/// The secrets kept in `dir`; those `wanted` and missing are made and
/// written first.
fn keep(dir: &Path, wanted: Wanted) -> anyhow::Result<Kept> {
    let path = dir.join(FILE);
    let mut kept: Kept = match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .with_context(|| format!("{} is not what this server wrote", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Kept::default(),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let make_jwt = wanted.jwt && kept.jwt_secret.is_empty();
    let make_blob = wanted.blob && kept.blob_url_secret.is_empty();
    if !make_jwt && !make_blob {
        return Ok(kept);
    }
    if make_jwt {
        kept.jwt_secret = random_hex()?;
    }
    if make_blob {
        kept.blob_url_secret = random_hex()?;
    }
    write_private(&path, &serde_json::to_string_pretty(&kept)?)?;
    tracing::info!(file = %path.display(), "Made this server's secrets.");
    Ok(kept)
}

/// 32 random bytes as 64 hex digits.
fn random_hex() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a secret: {e}"))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `text` to `path` readable by its owner only: first to a
/// temporary file made 0600, fsynced, then renamed over.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let dir = path.parent().context("a secrets file has a folder")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let temp = path.with_extension("json.tmp");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .with_context(|| format!("writing {}", temp.display()))?;
    f.write_all(text.as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&temp, path).with_context(|| format!("writing {}", path.display()))?;
    // The rename survives a crash only once the folder is synced.
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("syncing {}", dir.display()))?;
    Ok(())
}
