//! The REST routes of PROTOCOL.md.

mod attachments;
mod blobs;
mod conversations;
mod extract;
mod messages;
mod misc;
mod number;
pub(crate) mod openapi;
mod search;
mod settings;

pub use extract::{ApiJson, ApiPath, ApiQuery};

use crate::error::ApiError;
use crate::AppState;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post, put};
use axum::Router;
use chat_domain::{DomainError, ErrorCode};

/// Every route, with the body limit set to the hard frame limit.
pub fn routes(state: AppState) -> Router {
    let limit = state.service.config.max_frame_bytes;
    Router::new()
        .route("/healthz", get(misc::healthz))
        .route("/readyz", get(misc::readyz))
        .route("/metrics", get(misc::metrics))
        .route("/v1/dev/token", post(misc::dev_token))
        .route("/v1/presence", get(misc::presence))
        .route("/v1/ws", get(crate::ws::upgrade))
        .route("/v1/openapi.json", get(openapi::openapi_json))
        .route(
            "/v1/conversations",
            post(conversations::create).get(conversations::list),
        )
        .route("/v1/conversations/{id}", get(conversations::get_one))
        .route("/v1/conversations/{id}/members", post(conversations::add))
        .route(
            "/v1/conversations/{id}/members/{user}",
            delete(conversations::remove),
        )
        .route("/v1/conversations/{id}/messages", get(messages::history))
        .route(
            "/v1/conversations/{id}/messages/{seq}",
            delete(messages::delete).patch(messages::edit),
        )
        .route(
            "/v1/conversations/{id}/messages/{seq}/reactions/{emoji}",
            put(messages::react_on).delete(messages::react_off),
        )
        .route("/v1/conversations/{id}/receipts", get(messages::receipts))
        .route("/v1/messages", post(messages::send))
        .route("/v1/receipts", post(messages::receipt))
        .route("/v1/search", get(search::search))
        .route("/v1/attachments", post(attachments::create))
        .route("/v1/attachments/{id}", get(attachments::download))
        .route(
            "/v1/attachments/{id}/thumbnail",
            get(attachments::thumbnail),
        )
        .route("/v1/attachments/{id}/info", get(attachments::info))
        .route("/v1/conversations/{id}/mute", put(settings::mute))
        .route("/v1/push/settings", get(settings::get).put(settings::put))
        .route(
            "/v1/privacy",
            get(settings::get_privacy).put(settings::put_privacy),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .merge(blobs::routes())
        .merge(crate::web::routes())
        .with_state(state)
}

/// Health and metrics alone, for processes that run no gateway.
pub fn ops_routes(
    log: std::sync::Arc<dyn chat_ports::EventLog>,
    metrics: std::sync::Arc<chat_telemetry::Metrics>,
) -> Router {
    Router::new()
        .route("/healthz", get(misc::healthz))
        .route("/readyz", get(misc::log_ready))
        .route(
            "/metrics",
            get(move || async move { misc::render_metrics(&metrics) }),
        )
        .fallback(not_found)
        .with_state(log)
}

async fn method_not_allowed() -> axum::response::Response {
    use axum::response::IntoResponse;
    let mut r = ApiError(DomainError::bad_request(
        "this method is not served on this route",
    ))
    .into_response();
    *r.status_mut() = axum::http::StatusCode::METHOD_NOT_ALLOWED;
    r
}

async fn not_found() -> ApiError {
    DomainError::new(ErrorCode::NotFound, "no such route").into()
}
