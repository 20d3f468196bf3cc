//! The local engine's file format: one file per blob, a short header that
//! carries the content type, then the bytes. One file (rather than a
//! sidecar) means a rename replaces bytes and content type together.
//!
//! ```text
//! "chatblb1"  8 bytes, magic and version
//! n           1 byte, the content type's length (1..=255)
//! ct          n bytes, the content type (printable ASCII)
//! bytes       the rest of the file
//! ```

use crate::validate::validate_content_type;
use chat_ports::PortError;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

const MAGIC: &[u8; 8] = b"chatblb1";

/// The header of a blob with `content_type` (already validated).
pub(crate) fn header(content_type: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 1 + content_type.len());
    out.extend_from_slice(MAGIC);
    out.push(u8::try_from(content_type.len()).unwrap_or(u8::MAX));
    out.extend_from_slice(content_type.as_bytes());
    out
}

/// A stored blob opened for reading, positioned at its first byte.
pub(crate) struct OpenBlob {
    pub(crate) file: File,
    pub(crate) len: u64,
    pub(crate) content_type: String,
}

/// Opens the blob at `path` and reads its header (blocking). `None` when
/// there is no such file.
pub(crate) fn open_blob(path: &Path) -> Result<Option<OpenBlob>, PortError> {
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(PortError::storage("blob store", e)),
    };
    let total = file
        .metadata()
        .map_err(|e| PortError::storage("blob store", e))?
        .len();
    let content_type = read_header(&mut file)?;
    let header_len = (MAGIC.len() + 1 + content_type.len()) as u64;
    Ok(Some(OpenBlob {
        file,
        len: total.saturating_sub(header_len),
        content_type,
    }))
}

/// Reads the header, leaving `file` at the first byte of the blob.
fn read_header(file: &mut File) -> Result<String, PortError> {
    let corrupt = |e: &dyn std::fmt::Display| PortError::corrupt("blob store", e);
    let mut fixed = [0u8; MAGIC.len() + 1];
    file.read_exact(&mut fixed)
        .map_err(|e| corrupt(&format_args!("short header: {e}")))?;
    if &fixed[..MAGIC.len()] != MAGIC {
        return Err(corrupt(&"not a blob file (bad magic)"));
    }
    let mut content_type = vec![0u8; usize::from(fixed[MAGIC.len()])];
    file.read_exact(&mut content_type)
        .map_err(|e| corrupt(&format_args!("short content type: {e}")))?;
    let content_type = String::from_utf8(content_type).map_err(|e| corrupt(&e))?;
    validate_content_type(&content_type).map_err(|e| corrupt(&e))?;
    Ok(content_type)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn header_round_trip_and_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b");
        let mut f = File::create(&path).unwrap();
        f.write_all(&header("image/png")).unwrap();
        f.write_all(b"bytes").unwrap();
        drop(f);
        let mut blob = open_blob(&path).unwrap().unwrap();
        assert_eq!(blob.content_type, "image/png");
        assert_eq!(blob.len, 5);
        let mut rest = Vec::new();
        blob.file.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, b"bytes");

        std::fs::write(&path, b"garbage!!!").unwrap();
        assert!(matches!(open_blob(&path), Err(PortError::Corrupt { .. })));
        std::fs::write(&path, b"chat").unwrap();
        assert!(matches!(open_blob(&path), Err(PortError::Corrupt { .. })));
        assert!(open_blob(&dir.path().join("none")).unwrap().is_none());
    }
}
