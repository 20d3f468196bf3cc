//! The OpenAPI 3.1 description of the HTTP API, derived from the handlers'
//! `#[utoipa::path]` and the types they answer with, served at
//! `GET /v1/openapi.json`. The local blob engine's signed URLs
//! (`/v1/blobs/{key}`) and the web client's files are not in it: clients
//! are handed those URLs and never build them.

use crate::error::ErrorBody;
use axum::response::IntoResponse;
use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

/// Every error answer a route may give, each with the protocol's body.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // (described, never built: `ApiError` builds the answers)
pub enum Errors {
    /// `bad_request`: a malformed body, path or query, or a value the
    /// rules refuse.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// `unauthorized`: no valid token.
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// `forbidden` or `not_member`.
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// `not_found` or `unknown_conversation`.
    #[response(status = 404)]
    NotFound(ErrorBody),
    /// `too_large`.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// `group_full` or `not_editable`.
    #[response(status = 422)]
    Unprocessable(ErrorBody),
    /// `rate_limited`, with `retry_after_ms` and `Retry-After`.
    #[response(status = 429)]
    RateLimited(ErrorBody),
    /// `overloaded`: retry later.
    #[response(status = 503)]
    Overloaded(ErrorBody),
}

/// The bearer token of `POST /v1/dev/token` or of the operator's issuer.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Names every operation after its method and path, and links the
/// operations that create a conversation or an attachment to those that
/// take its id (`$response.body#/id`), so a client generator, or a fuzzer
/// following links, goes from one to the others.
struct Links;

/// (the creating operation's path, its answers with an id, the prefix of
/// the paths that take that id)
const CREATORS: &[(&str, &[&str], &str)] = &[
    (
        "/v1/conversations",
        &["200", "201"],
        "/v1/conversations/{id}",
    ),
    ("/v1/attachments", &["200"], "/v1/attachments/{id}"),
];

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::link::LinkBuilder;
        use utoipa::openapi::RefOr;
        let mut takers: Vec<(&str, String)> = Vec::new();
        for (path, item) in openapi.paths.paths.iter_mut() {
            for (method, op) in operations(item) {
                let id = format!("{method}{path}")
                    .replace(['/', '.', '-'], "_")
                    .replace(['{', '}'], "");
                if let Some((prefix, _, _)) = CREATORS
                    .iter()
                    .map(|(c, s, p)| (*p, *c, *s))
                    .find(|(p, _, _)| path.starts_with(p))
                {
                    takers.push((prefix, id.clone()));
                }
                op.operation_id = Some(id);
            }
        }
        for (creator, statuses, prefix) in CREATORS {
            let Some(op) = openapi
                .paths
                .paths
                .get_mut(*creator)
                .and_then(|i| i.post.as_mut())
            else {
                continue;
            };
            for status in *statuses {
                let Some(RefOr::T(response)) = op.responses.responses.get_mut(*status) else {
                    continue;
                };
                for (_, taker) in takers.iter().filter(|(p, _)| p == prefix) {
                    let link = LinkBuilder::new()
                        .operation_id(taker.clone())
                        .parameter("id", "$response.body#/id")
                        .build();
                    response.links.insert(taker.clone(), RefOr::T(link));
                }
            }
        }
    }
}

/// The operations of a path, with their methods.
fn operations(
    item: &mut utoipa::openapi::PathItem,
) -> Vec<(&'static str, &mut utoipa::openapi::path::Operation)> {
    [
        ("get", item.get.as_mut()),
        ("put", item.put.as_mut()),
        ("post", item.post.as_mut()),
        ("delete", item.delete.as_mut()),
        ("patch", item.patch.as_mut()),
    ]
    .into_iter()
    .filter_map(|(m, op)| op.map(|op| (m, op)))
    .collect()
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "chat",
        description = "The HTTP API of PROTOCOL.md with its extensions (docs/protocol.md). The WebSocket's frames are described there."
    ),
    paths(
        super::misc::healthz,
        super::misc::readyz,
        super::misc::metrics,
        super::misc::dev_token,
        super::misc::presence,
        openapi_json,
        crate::ws::upgrade,
        super::conversations::create,
        super::conversations::list,
        super::conversations::get_one,
        super::conversations::add,
        super::conversations::remove,
        super::messages::send,
        super::messages::history,
        super::messages::delete,
        super::messages::edit,
        super::messages::react_on,
        super::messages::react_off,
        super::messages::receipts,
        super::messages::receipt,
        super::search::search,
        super::attachments::create,
        super::attachments::download,
        super::attachments::thumbnail,
        super::attachments::info,
        super::settings::mute,
        super::settings::get,
        super::settings::put,
        super::settings::get_privacy,
        super::settings::put_privacy,
    ),
    modifiers(&BearerAuth, &Links)
)]
pub struct ApiDoc;

/// `GET /v1/openapi.json`: this description.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 description of this API", content_type = "application/json"))
)]
pub async fn openapi_json() -> impl IntoResponse {
    Json(document())
}

/// The description as JSON. utoipa 5.5 writes a link's fields in snake
/// case (`operation_id`); OpenAPI names them in camel case, so they are
/// renamed here.
pub fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the description serializes");
    let operations = doc["paths"]
        .as_object_mut()
        .into_iter()
        .flat_map(|p| p.values_mut());
    let responses = operations
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("responses").and_then(|r| r.as_object_mut()))
        .flat_map(|r| r.values_mut());
    for response in responses {
        let links = response.get_mut("links").and_then(|l| l.as_object_mut());
        for link in links.into_iter().flat_map(|l| l.values_mut()) {
            let Some(link) = link.as_object_mut() else {
                continue;
            };
            for (snake, camel) in [
                ("operation_id", "operationId"),
                ("operation_ref", "operationRef"),
                ("request_body", "requestBody"),
            ] {
                if let Some(v) = link.remove(snake) {
                    link.insert(camel.into(), v);
                }
            }
        }
    }
    doc
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    /// (path, method) of every `.route(…)` in `http/mod.rs`'s API router
    /// (the routes before `ops_routes`).
    fn routed() -> BTreeSet<(String, String)> {
        let source = include_str!("mod.rs");
        let api = &source[..source.find("pub fn ops_routes").expect("ops_routes")];
        let mut out = BTreeSet::new();
        let mut rest = api;
        while let Some(at) = rest.find(".route(") {
            let body = &rest[at + ".route(".len()..];
            let mut depth = 1;
            let end = body
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(i, _)| i)
                .expect("a closed route");
            let call = &body[..end];
            let path = call.split('"').nth(1).expect("a path").to_string();
            for method in ["get", "post", "put", "delete", "patch"] {
                let named = call.match_indices(&format!("{method}(")).any(|(i, _)| {
                    i == 0
                        || !call.as_bytes()[i - 1].is_ascii_alphanumeric()
                            && call.as_bytes()[i - 1] != b'_'
                });
                if named {
                    out.insert((path.clone(), method.to_string()));
                }
            }
            rest = &body[end..];
        }
        out
    }

    fn described() -> BTreeSet<(String, String)> {
        let doc = super::document();
        let mut out = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                out.insert((path.clone(), method.clone()));
            }
        }
        out
    }

    #[test]
    fn every_route_is_described_and_every_description_routed() {
        let routed = routed();
        assert!(routed.len() > 25, "the parse found the routes: {routed:?}");
        assert_eq!(described(), routed);
    }

    #[test]
    fn the_description_is_openapi_3_1_with_bearer_auth_and_error_bodies() {
        let doc = super::document();
        let link = &doc["paths"]["/v1/conversations"]["post"]["responses"]["201"]["links"]
            ["get_v1_conversations_id"];
        assert_eq!(link["operationId"], "get_v1_conversations_id", "{link}");
        assert_eq!(link["parameters"]["id"], "$response.body#/id");
        assert!(
            doc["openapi"].as_str().unwrap().starts_with("3.1."),
            "{}",
            doc["openapi"]
        );
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
        let send = &doc["paths"]["/v1/messages"]["post"];
        assert_eq!(send["security"][0]["bearer"], serde_json::json!([]));
        for status in ["400", "401", "403", "404", "413", "422", "429", "503"] {
            assert!(send["responses"][status].is_object(), "{status}: {send}");
        }
        assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
        assert!(doc["components"]["schemas"]["Message"].is_object());
    }
}
