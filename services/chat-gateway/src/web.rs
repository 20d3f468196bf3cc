//! The web client (`web/`), built into `web/dist` and embedded in the
//! binary: `GET /` serves the page, `/app.js` and `/app.css` its code, from
//! the same origin as the API so the WebSocket's Origin check holds.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("../../../web/dist/index.html");
const SCRIPT: &str = include_str!("../../../web/dist/app.js");
const STYLE: &str = include_str!("../../../web/dist/app.css");

/// What the page may load: its own code, images and media from anywhere
/// (attachments may come from an object store), connections to anywhere
/// (uploads go to presigned URLs); never framed.
const POLICY: &str = "default-src 'self'; img-src * data: blob:; media-src * blob:; \
                      connect-src *; style-src 'self'; script-src 'self'; frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::CONTENT_SECURITY_POLICY, POLICY),
        ],
        body,
    )
}

/// The page's routes.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { asset("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/app.js",
            get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", STYLE) }),
        )
}
