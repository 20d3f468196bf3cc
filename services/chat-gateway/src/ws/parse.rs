//! Client frames: JSON text to [`ClientFrame`], or a clear error.

use chat_domain::frames::ClientFrame;
use chat_domain::DomainError;

const KNOWN: &[&str] = &[
    "send",
    "delivered",
    "read",
    "typing",
    "edit",
    "react",
    "subscribe_presence",
    "sync",
    "ping",
];

/// A frame that did not parse: the error to send, and the `ref` to put on
/// it (a send's client_msg_id, or the frame's own `ref`, when it can be
/// read).
pub(crate) struct Rejected {
    pub error: DomainError,
    pub reference: Option<String>,
}

pub(crate) fn parse(text: &str) -> Result<ClientFrame, Rejected> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| Rejected {
        error: DomainError::bad_request(format!("invalid JSON: {e}")),
        reference: None,
    })?;
    let reference = value
        .get("client_msg_id")
        .or_else(|| value.get("ref"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    let Some(kind) = value.get("type").and_then(|t| t.as_str()) else {
        return Err(Rejected {
            error: DomainError::bad_request("a frame is a JSON object with a string \"type\""),
            reference,
        });
    };
    if !KNOWN.contains(&kind) {
        return Err(Rejected {
            error: DomainError::bad_request(format!("unknown frame type {kind:?}")),
            reference,
        });
    }
    let kind = kind.to_string();
    serde_json::from_value(value).map_err(|e| Rejected {
        error: DomainError::bad_request(format!("bad {kind} frame: {e}")),
        reference,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_frames_get_errors_not_panics() {
        assert!(parse("{").is_err());
        assert!(parse("[]").is_err());
        assert!(parse(r#"{"type":"warp"}"#)
            .err()
            .unwrap()
            .error
            .message
            .contains("unknown frame type"));
        let r = parse(r#"{"type":"send","conv":"c","client_msg_id":"x"}"#)
            .err()
            .unwrap();
        assert_eq!(r.reference.as_deref(), Some("x"));
        assert!(parse(r#"{"type":"delivered","conv":"c","seq":-1}"#).is_err());
        assert!(parse(r#"{"type":"ping","id":7}"#).is_ok());
        assert!(matches!(
            parse(r#"{"type":"edit","conv":"c","seq":1,"body":"b","ref":"e"}"#),
            Ok(ClientFrame::Edit { reference: Some(r), .. }) if r == "e"
        ));
        let r = parse(r#"{"type":"edit","conv":"c","body":"b","ref":"e"}"#)
            .err()
            .unwrap();
        assert_eq!(
            r.reference.as_deref(),
            Some("e"),
            "a bad edit keeps its ref"
        );
    }
}
