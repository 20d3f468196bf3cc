//! Atomic replacement of a blob file: write a temp file in the same
//! directory, fsync it, rename it over the blob, fsync the directory. Or,
//! for a blob that must never change once stored, link it under the
//! blob's name only if that name is free.
//! Readers see the old file or the new one, never a part; a crash leaves at
//! most a temp file, which [`sweep_stale`] removes later.

use chat_ports::PortError;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

/// Temp files start with `~`, which no key contains, so they never collide
/// with a blob.
const TEMP_PREFIX: char = '~';
const TEMP_SUFFIX: &str = ".part";

fn io_err(e: io::Error) -> PortError {
    PortError::storage("blob store", e)
}

/// A temp file that is removed when dropped, unless committed: an upload
/// that fails, is refused or is cancelled (its future dropped) leaves
/// nothing behind.
pub(crate) struct TempFile {
    path: PathBuf,
    committed: bool,
}

impl TempFile {
    /// Creates a new, empty temp file in `dir`.
    pub(crate) async fn create(dir: &Path) -> Result<(Self, tokio::fs::File), PortError> {
        let path = dir.join(format!(
            "{TEMP_PREFIX}{}{TEMP_SUFFIX}",
            uuid::Uuid::new_v4().simple()
        ));
        let file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .await
            .map_err(io_err)?;
        let guard = Self {
            path,
            committed: false,
        };
        Ok((guard, file))
    }

    /// Moves the (written, synced and closed) temp file to `dest` and
    /// fsyncs `dir`, so the rename survives a crash.
    pub(crate) async fn commit(mut self, dest: &Path, dir: &Path) -> Result<(), PortError> {
        tokio::fs::rename(&self.path, dest).await.map_err(io_err)?;
        self.committed = true;
        sync_dir(dir).await
    }
}

impl TempFile {
    /// Gives the (written, synced and closed) temp file the name `dest`
    /// only if no file has it (a hard link fails on an existing name, in
    /// one step), then fsyncs `dir`. False, and nothing changed, when
    /// `dest` exists.
    pub(crate) async fn commit_new(self, dest: &Path, dir: &Path) -> Result<bool, PortError> {
        match tokio::fs::hard_link(&self.path, dest).await {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(false),
            Err(e) => return Err(io_err(e)),
        }
        // Dropped uncommitted: the temp name goes, the blob keeps the bytes.
        drop(self);
        sync_dir(dir).await?;
        Ok(true)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: a leftover is swept by `sweep_stale` at the next
            // open.
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Flushes a directory's entries (a rename or a new file) to disk.
pub(crate) async fn sync_dir(dir: &Path) -> Result<(), PortError> {
    let dir = tokio::fs::File::open(dir).await.map_err(io_err)?;
    dir.sync_all().await.map_err(io_err)
}

/// Removes temp files older than `age` from `dir` (blocking): what crashed
/// uploads left. Uploads still in progress are younger.
pub(crate) fn sweep_stale(dir: &Path, age: Duration) -> Result<(), PortError> {
    // Compared with file mtimes, which are wall-clock times too.
    #[allow(clippy::disallowed_methods)]
    let cutoff = SystemTime::now()
        .checked_sub(age)
        .unwrap_or(SystemTime::UNIX_EPOCH);
    for entry in std::fs::read_dir(dir).map_err(io_err)? {
        let entry = entry.map_err(io_err)?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if !(name.starts_with(TEMP_PREFIX) && name.ends_with(TEMP_SUFFIX)) {
            continue;
        }
        let modified = entry.metadata().and_then(|m| m.modified());
        if matches!(modified, Ok(t) if t < cutoff) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    Ok(())
}
