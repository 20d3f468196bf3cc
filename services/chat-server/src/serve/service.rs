//! The per-connection service: requests to the router, request bodies
//! with the body timeout, and the 408 that answers a stalled body.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::Router;
use chat_domain::DomainError;
use chat_telemetry::Metrics;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

use super::*;

/// The router as one connection's hyper service: times its request bodies
/// and tells the clock when requests start and end.
#[derive(Clone)]
pub(super) struct ConnService {
    pub(super) router: Router,
    pub(super) clock: Arc<Clock>,
    pub(super) body_timeout: Duration,
    pub(super) metrics: Arc<Metrics>,
    /// The client's address (`ConnectInfo` in every request's extensions).
    pub(super) peer: std::net::SocketAddr,
}

pub(super) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

impl hyper::service::Service<Request<Incoming>> for ConnService {
    type Response = Response<GuardedBody>;
    type Error = Infallible;
    type Future = BoxFuture<Result<Self::Response, Infallible>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let mut guard = self.clock.request_started();
        let timed_out = Arc::new(AtomicBool::new(false));
        let body_timeout = self.body_timeout;
        let flag = timed_out.clone();
        let mut req = req.map(|inner| {
            Body::new(TimeoutBody {
                inner,
                timeout: body_timeout,
                sleep: None,
                armed: false,
                timed_out: flag,
            })
        });
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(self.peer));
        let mut router = self.router.clone();
        let metrics = self.metrics.clone();
        Box::pin(async move {
            // A router is always ready: no `poll_ready` first.
            let response = match tower_service::Service::call(&mut router, req).await {
                Ok(r) => r,
                Err(never) => match never {},
            };
            guard.handler_done();
            let response = if timed_out.load(Ordering::Relaxed) {
                metrics.shed("http_body_timeout");
                body_timeout_response()
            } else {
                response
            };
            Ok(response.map(|inner| GuardedBody {
                inner,
                _request: guard,
            }))
        })
    }
}

/// 408 `bad_request`, and the connection closes after it (the rest of the
/// body is not waited for).
pub(super) fn body_timeout_response() -> Response<Body> {
    let mut r = chat_gateway::error::ApiError(DomainError::bad_request(
        "the request body stopped arriving",
    ))
    .into_response();
    *r.status_mut() = StatusCode::REQUEST_TIMEOUT;
    r.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    r
}

/// A request body that fails once no byte has come for `timeout` while its
/// reader waits.
pub(super) struct TimeoutBody {
    pub(super) inner: Incoming,
    pub(super) timeout: Duration,
    pub(super) sleep: Option<Pin<Box<Sleep>>>,
    /// The sleep runs for the current wait.
    pub(super) armed: bool,
    pub(super) timed_out: Arc<AtomicBool>,
}

impl HttpBody for TimeoutBody {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.armed = false;
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = Instant::now() + this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if !this.armed {
            sleep.as_mut().reset(deadline);
            this.armed = true;
        }
        if sleep.as_mut().poll(cx).is_ready() {
            this.timed_out.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err("the request body stopped arriving".into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that carries its request's guard: hyper drops it once
/// the response is written (or the connection is gone), which ends the
/// request for the clock.
pub(super) struct GuardedBody {
    pub(super) inner: Body,
    pub(super) _request: RequestGuard,
}

impl HttpBody for GuardedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
