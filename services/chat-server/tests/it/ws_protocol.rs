//! The WebSocket protocol itself (RFC 6455), in the cases of the Autobahn
//! test suite that apply to a text-only server: fragmented messages with
//! control frames between their fragments, invalid UTF-8, bad control
//! frames, reserved bits, and the close handshake. Frames are built by
//! hand (`Message::Frame`), masked as a client's must be; an unmasked one
//! is written on a raw socket.

use crate::harness::*;
use futures::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::Message as WsMessage;

/// A text message's fragment: `first` opens it, `last` ends it.
fn fragment(text: &str, first: bool, last: bool) -> WsMessage {
    let opcode = if first {
        OpCode::Data(Data::Text)
    } else {
        OpCode::Data(Data::Continue)
    };
    WsMessage::Frame(Frame::message(text.as_bytes().to_vec(), opcode, last))
}

/// The close frame the server ends with (reading past other frames), or
/// None if the connection ended without one.
async fn close_of(ws: &mut Ws) -> Option<CloseFrame> {
    loop {
        let m = tokio::time::timeout(WAIT, ws.stream.next())
            .await
            .expect("the server neither closed nor answered");
        match m {
            Some(Ok(WsMessage::Close(frame))) => return frame,
            Some(Ok(_)) => continue,
            Some(Err(_)) | None => return None,
        }
    }
}

/// A message in three fragments, a ping between two of them: the ping is
/// answered at once, and the message whole.
#[tokio::test]
async fn a_fragmented_message_with_a_ping_between_is_read_whole() {
    let s = Server::start().await;
    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    let text = json!({"type": "ping", "id": "in-three-parts"}).to_string();
    let (a, rest) = text.split_at(5);
    let (b, c) = rest.split_at(7);
    ws.send_raw(fragment(a, true, false)).await;
    ws.send_raw(fragment(b, false, false)).await;
    ws.send_raw(WsMessage::Ping(b"between".to_vec().into()))
        .await;
    ws.send_raw(fragment(c, false, true)).await;
    let mut ponged = false;
    let pong = loop {
        let m = tokio::time::timeout(WAIT, ws.stream.next())
            .await
            .expect("no answer")
            .expect("the connection closed")
            .expect("a read error");
        match m {
            WsMessage::Pong(p) => {
                assert_eq!(&p[..], b"between");
                ponged = true;
            }
            WsMessage::Text(t) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                if v["type"] == "pong" {
                    break v;
                }
            }
            WsMessage::Close(c) => panic!("closed before the pong: {c:?}"),
            WsMessage::Binary(_) | WsMessage::Ping(_) | WsMessage::Frame(_) => {}
        }
    };
    assert_eq!(pong["id"], "in-three-parts");
    assert!(ponged, "the control frame between fragments was answered");
}

/// A text frame that is not UTF-8 ends the connection with 1007, as RFC
/// 6455 asks (§8.1), and nothing else is lost: the server stays up.
#[tokio::test]
async fn invalid_utf8_in_a_text_frame_closes_with_1007() {
    let s = Server::start().await;
    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    let bad = WsMessage::Frame(Frame::message(
        vec![b'{', 0xff, 0xfe, b'}'],
        OpCode::Data(Data::Text),
        true,
    ));
    ws.send_raw(bad).await;
    let close = close_of(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1007, "{close:?}");
    let mut again = s.connect("alice", "phone").await;
    again.handshake().await;
}

/// A control frame longer than 125 bytes, and a frame with a reserved bit
/// set (no extension was agreed), are protocol errors: closed with 1002.
#[tokio::test]
async fn protocol_errors_close_with_1002() {
    let s = Server::start().await;
    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    ws.send_raw(WsMessage::Frame(Frame::ping(vec![b'x'; 126])))
        .await;
    let close = close_of(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1002, "{close:?}");

    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    let mut frame = Frame::message(
        json!({"type": "ping"}).to_string().into_bytes(),
        OpCode::Data(Data::Text),
        true,
    );
    frame.header_mut().rsv1 = true;
    ws.send_raw(WsMessage::Frame(frame)).await;
    let close = close_of(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1002, "{close:?}");
}

/// The close handshake: the client's close (1000) is answered with a
/// close, then the server ends the connection.
#[tokio::test]
async fn a_client_close_is_answered_with_a_close() {
    let s = Server::start().await;
    let mut ws = s.connect("alice", "phone").await;
    ws.handshake().await;
    ws.stream
        .send(WsMessage::Close(Some(CloseFrame {
            code: 1000.into(),
            reason: "bye".into(),
        })))
        .await
        .unwrap();
    let close = close_of(&mut ws).await.expect("a close frame");
    assert_eq!(u16::from(close.code), 1000, "{close:?}");
    let end = tokio::time::timeout(WAIT, ws.stream.next())
        .await
        .expect("the server did not end the connection");
    assert!(
        matches!(end, None | Some(Err(_))),
        "after the close: {end:?}"
    );
}

/// A client's frames must be masked (RFC 6455, 5.1): an unmasked one is a
/// protocol error, closed with 1002. No client library sends one, so this
/// test speaks the protocol on a raw socket: the upgrade by hand, then an
/// unmasked text frame, then it reads the server's (unmasked) frames.
#[tokio::test]
async fn an_unmasked_client_frame_closes_with_1002() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = Server::start().await;
    let token = s.token("alice", "phone").await;
    let addr = s.base.trim_start_matches("http://").to_string();
    let mut tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let upgrade = format!(
        "GET /v1/ws?token={token} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(upgrade.as_bytes()).await.unwrap();
    // The response head, byte by byte up to its blank line.
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        let n = tokio::time::timeout(WAIT, tcp.read(&mut b))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(n, 1, "the server closed during the upgrade");
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");

    let payload = json!({"type": "ping"}).to_string().into_bytes();
    let mut frame = vec![0x81, payload.len() as u8];
    frame.extend_from_slice(&payload);
    tcp.write_all(&frame).await.unwrap();

    // The server's frames until its close: FIN+opcode, then a length.
    let code = loop {
        let mut h = [0u8; 2];
        if tokio::time::timeout(WAIT, tcp.read_exact(&mut h))
            .await
            .expect("the server neither closed nor answered")
            .is_err()
        {
            panic!("the connection ended without a close frame");
        }
        assert_eq!(h[1] & 0x80, 0, "a server's frames are not masked");
        let len = match h[1] & 0x7f {
            126 => tcp.read_u16().await.unwrap() as usize,
            127 => tcp.read_u64().await.unwrap() as usize,
            n => n as usize,
        };
        let mut body = vec![0u8; len];
        tcp.read_exact(&mut body).await.unwrap();
        if h[0] & 0x0f == 0x8 {
            break u16::from_be_bytes([body[0], body[1]]);
        }
    };
    assert_eq!(code, 1002);
}
