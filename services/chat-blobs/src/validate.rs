//! The keys and content types both engines accept.

/// The longest key, in bytes.
pub const MAX_KEY_LEN: usize = 128;

/// The longest content type, in bytes.
pub const MAX_CONTENT_TYPE_LEN: usize = 255;

/// A key that names no blob: see [`validate_key`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid blob key: use 1 to 128 of A-Z a-z 0-9 . _ -, not starting with '.' and without '..'"
)]
pub struct InvalidKey;

/// A content type that cannot be stored: see [`validate_content_type`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("invalid content type: use a media type such as image/png, at most 255 printable ASCII characters")]
pub struct InvalidContentType;

/// Checks that `key` is 1 to [`MAX_KEY_LEN`] characters of
/// `A-Z a-z 0-9 . _ -`, does not start with `.` (so neither `.` nor `..`
/// nor a hidden file) and holds no `..`. Such a key is one plain file name
/// and one S3 path segment.
pub fn validate_key(key: &str) -> Result<(), InvalidKey> {
    let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-');
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key.bytes().all(allowed)
        && !key.starts_with('.')
        && !key.contains("..");
    if ok {
        Ok(())
    } else {
        Err(InvalidKey)
    }
}

/// Checks that `content_type` is a media type (`type/subtype`, optional
/// parameters) of at most [`MAX_CONTENT_TYPE_LEN`] printable ASCII
/// characters, so it fits the local file header and is a valid HTTP header
/// value. The gateway checks the protocol's `content_type` with it too.
pub fn validate_content_type(content_type: &str) -> Result<(), InvalidContentType> {
    let essence = content_type.split(';').next().unwrap_or("").trim();
    let token = |t: &str| {
        !t.is_empty()
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    let ok = content_type.len() <= MAX_CONTENT_TYPE_LEN
        && content_type.bytes().all(|b| (b' '..=b'~').contains(&b))
        && essence
            .split_once('/')
            .is_some_and(|(t, s)| token(t) && token(s));
    if ok {
        Ok(())
    } else {
        Err(InvalidContentType)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for good in ["a", "att-1", "A.b_c-9", "x.thumb", &"k".repeat(128)] {
            assert_eq!(validate_key(good), Ok(()), "{good}");
        }
        let long = "k".repeat(129);
        for bad in [
            "", ".", "..", ".hidden", "a..b", "a/b", "../x", "a\\b", "a b", "ü", "a\0", &long,
        ] {
            assert_eq!(validate_key(bad), Err(InvalidKey), "{bad:?}");
        }
    }

    #[test]
    fn content_types() {
        assert!(validate_content_type("image/png").is_ok());
        assert!(validate_content_type("text/plain; charset=utf-8").is_ok());
        assert!(validate_content_type("").is_err());
        assert!(validate_content_type("a\nb").is_err());
        assert!(validate_content_type("é").is_err());
        assert!(validate_content_type(&"a".repeat(256)).is_err());
        assert!(validate_content_type("application/vnd.ms-excel").is_ok());
        for bad in ["png", "image/", "/png", "ima ge/png", "image/png\n"] {
            assert!(validate_content_type(bad).is_err(), "{bad:?}");
        }
    }
}
