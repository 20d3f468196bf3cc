//! A TCP proxy the harness controls, between a processor and the store or
//! the broker: `Pass` forwards, `Cut` closes every open connection and
//! closes new ones as soon as they are accepted (the client sees its
//! connections drop and its reconnects fail), `Delay(d)` holds every chunk
//! for `d` in each direction (latency, not a throughput cap: chunks are
//! queued with their due time).

use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Pass,
    Cut,
    Delay(Duration),
}

pub struct Proxy {
    pub port: u16,
    mode: watch::Sender<Mode>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `target`.
    pub async fn start(target: SocketAddr) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (mode, rx) = watch::channel(Mode::Pass);
        let task = tokio::spawn(accept_loop(listener, target, rx));
        Ok(Self { port, mode, task })
    }

    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
        // Open connections see the cut and end.
        self.mode.send_replace(Mode::Cut);
    }
}

async fn accept_loop(listener: TcpListener, target: SocketAddr, mode: watch::Receiver<Mode>) {
    loop {
        let Ok((client, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if *mode.borrow() == Mode::Cut {
            drop(client);
            continue;
        }
        let mode = mode.clone();
        tokio::spawn(async move {
            let Ok(server) = TcpStream::connect(target).await else {
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (cr, cw) = client.into_split();
            let (sr, sw) = server.into_split();
            let up = pipe(cr, sw, mode.clone());
            let down = pipe(sr, cw, mode);
            // Either direction ending (EOF, error, cut) ends both.
            tokio::select! {
                _ = up => {}
                _ = down => {}
            }
        });
    }
}

/// Copies `from` to `to` until EOF, an error or a cut, holding chunks
/// while the mode is `Delay`.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let (tx, mut rx) = mpsc::channel::<(Instant, Vec<u8>)>(256);
    let mut writer_mode = mode.clone();
    let writer = async move {
        while let Some((due, chunk)) = rx.recv().await {
            tokio::select! {
                _ = tokio::time::sleep_until(due) => {}
                _ = writer_mode.wait_for(|m| *m == Mode::Cut) => return,
            }
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        let _ = to.shutdown().await;
    };
    let reader = async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = tokio::select! {
                r = from.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                },
                _ = mode.wait_for(|m| *m == Mode::Cut) => return,
            };
            let delay = match *mode.borrow() {
                Mode::Delay(d) => d,
                Mode::Pass | Mode::Cut => Duration::ZERO,
            };
            if tx
                .send((Instant::now() + delay, buf[..n].to_vec()))
                .await
                .is_err()
            {
                return;
            }
        }
    };
    // The reader ending drops its sender: the writer drains what is queued
    // (unless cut) and closes.
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = l.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => {
                                if s.write_all(&buf[..n]).await.is_err() {
                                    return;
                                }
                            }
                        }
                    }
                });
            }
        });
        addr
    }

    async fn roundtrip(port: u16) -> std::io::Result<Duration> {
        let mut s = TcpStream::connect(("127.0.0.1", port)).await?;
        let start = Instant::now();
        s.write_all(b"ping").await?;
        let mut buf = [0u8; 4];
        s.read_exact(&mut buf).await?;
        assert_eq!(&buf, b"ping");
        Ok(start.elapsed())
    }

    #[tokio::test]
    async fn passes_delays_and_cuts() {
        let proxy = Proxy::start(echo_server().await).await.unwrap();
        assert!(roundtrip(proxy.port).await.unwrap() < Duration::from_millis(150));

        proxy.set(Mode::Delay(Duration::from_millis(200)));
        // 200 ms each way.
        assert!(roundtrip(proxy.port).await.unwrap() >= Duration::from_millis(400));

        // An open connection is dropped by a cut, and new ones are refused.
        proxy.set(Mode::Pass);
        let mut open = TcpStream::connect(("127.0.0.1", proxy.port)).await.unwrap();
        open.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        open.read_exact(&mut buf).await.unwrap();
        proxy.set(Mode::Cut);
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(2), open.read_to_end(&mut rest)).await;
        assert!(matches!(read, Ok(Ok(0)) | Ok(Err(_))), "{read:?}");
        assert!(roundtrip(proxy.port).await.is_err());

        proxy.set(Mode::Pass);
        assert!(roundtrip(proxy.port).await.is_ok());
    }
}
