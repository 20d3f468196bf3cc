//! Opening WebSockets from many loopback source addresses.
//!
//! A TCP connection is named by (source ip, source port, destination ip,
//! destination port); with one source address the ephemeral port range
//! (about 28 k ports) caps the connections to one server port. Binding each
//! socket to one of several 127.0.0.x addresses lifts that cap: Linux routes
//! all of 127.0.0.0/8 to the loopback interface.

use anyhow::Context;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderName, HeaderValue};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

/// A client WebSocket over plain TCP.
pub type Ws = WebSocketStream<TcpStream>;

/// The loopback source addresses connections are spread over.
#[derive(Debug, Clone, Copy)]
pub struct SourceAddrs {
    count: u32,
}

impl SourceAddrs {
    /// `count` addresses from 127.0.0.2 upwards (127.0.0.1 is left to the
    /// servers).
    pub fn new(count: u32) -> Self {
        SourceAddrs {
            count: count.max(1),
        }
    }

    /// The address connection number `i` binds to (round robin).
    pub fn for_connection(&self, i: usize) -> Ipv4Addr {
        let first = u32::from(Ipv4Addr::new(127, 0, 0, 2));
        Ipv4Addr::from(first + (i as u32 % self.count))
    }

    /// How many addresses are in use.
    pub fn count(&self) -> u32 {
        self.count
    }
}

/// Small buffers: an idle connection should cost the generator little, so
/// that one process can hold 100 k of them.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
        .max_message_size(Some(4 << 20))
}

/// Opens a WebSocket to `url` (`ws://host:port/path`) from `source`,
/// with extra request headers.
pub async fn connect(
    url: &str,
    source: Ipv4Addr,
    headers: &[(&str, String)],
) -> anyhow::Result<Ws> {
    let mut request = url.into_client_request().context("bad WebSocket URL")?;
    for (name, value) in headers {
        request.headers_mut().insert(
            HeaderName::from_bytes(name.as_bytes()).context("bad header name")?,
            HeaderValue::from_str(value).context("bad header value")?,
        );
    }
    let uri = request.uri();
    let host = uri.host().context("URL without host")?;
    let port = uri.port_u16().unwrap_or(80);
    let dest: IpAddr = match host {
        "localhost" => IpAddr::V4(Ipv4Addr::LOCALHOST),
        h => h
            .parse()
            .context("the generator connects to IP addresses only")?,
    };
    let socket = TcpSocket::new_v4()?;
    socket
        .bind(SocketAddr::new(IpAddr::V4(source), 0))
        .with_context(|| format!("binding to {source}"))?;
    let stream = socket
        .connect(SocketAddr::new(dest, port))
        .await
        .with_context(|| format!("connecting from {source}"))?;
    stream.set_nodelay(true)?;
    let (ws, _) = tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config()))
        .await
        .context("WebSocket handshake")?;
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_rotate_over_the_source_addresses() {
        let s = SourceAddrs::new(3);
        assert_eq!(s.for_connection(0), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(s.for_connection(2), Ipv4Addr::new(127, 0, 0, 4));
        assert_eq!(s.for_connection(3), Ipv4Addr::new(127, 0, 0, 2));
        let many = SourceAddrs::new(300);
        assert_eq!(many.for_connection(299), Ipv4Addr::new(127, 0, 1, 45));
    }
}
