//! HS256 tokens (`sub` user, `dev` device, `exp`) and the extractor that
//! turns a request's token into the caller.

use crate::error::ApiError;
use crate::AppState;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use chat_domain::{ids, DeviceId, DomainError, ErrorCode, UserId};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    dev: String,
    exp: u64,
}

/// Mints and checks tokens with one secret.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: u64,
}

impl Tokens {
    pub fn new(secret: &str, ttl_secs: u64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
            ttl_secs,
        }
    }

    /// A token for `user` on `device`.
    pub fn mint(&self, user: &str, device: &str) -> Result<String, DomainError> {
        ids::check_id("user", user)?;
        ids::check_id("device", device)?;
        let exp = chat_domain::time::now_ms() as u64 / 1000 + self.ttl_secs;
        let claims = Claims {
            sub: user.into(),
            dev: device.into(),
            exp,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| DomainError::internal(format!("cannot sign a token: {e}")))
    }

    /// The caller a token names, if it is valid and not expired.
    pub fn verify(&self, token: &str) -> Result<Caller, DomainError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        let data =
            jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).map_err(|e| {
                DomainError::new(ErrorCode::Unauthorized, format!("invalid token: {e}"))
            })?;
        let c = data.claims;
        let invalid = |_| DomainError::new(ErrorCode::Unauthorized, "invalid token claims");
        Ok(Caller {
            user: UserId::parse(c.sub).map_err(invalid)?,
            device: DeviceId::parse(c.dev).map_err(invalid)?,
        })
    }
}

/// The authenticated user and device of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub user: UserId,
    pub device: DeviceId,
}

/// The token of a request's `Authorization: Bearer …` header.
pub fn bearer_of(parts: &Parts) -> Option<String> {
    let v = parts.headers.get(axum::http::header::AUTHORIZATION)?;
    let v = v.to_str().ok()?;
    v.strip_prefix("Bearer ")
        .or_else(|| v.strip_prefix("bearer "))
        .map(|t| t.trim().to_string())
}

/// The token of a WebSocket upgrade: the header, or `?token=…` (a browser
/// cannot set headers on a WebSocket).
pub fn upgrade_token_of(parts: &Parts) -> Option<String> {
    if parts
        .headers
        .contains_key(axum::http::header::AUTHORIZATION)
    {
        return bearer_of(parts);
    }
    let query = parts.uri.query()?;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "token").then(|| v.to_string())
    })
}

fn verified(token: Option<String>, state: &AppState) -> Result<Caller, ApiError> {
    let token =
        token.ok_or_else(|| DomainError::new(ErrorCode::Unauthorized, "missing bearer token"))?;
    Ok(state.service.tokens().verify(&token)?)
}

/// The caller of an HTTP request, from its `Authorization` header only: a
/// token in a URL would be kept in access logs and browser history.
impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        verified(bearer_of(parts), state)
    }
}

/// The caller of the WebSocket upgrade: the header, or `?token=`.
pub struct UpgradeCaller(pub Caller);

impl FromRequestParts<AppState> for UpgradeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        verified(upgrade_token_of(parts), state).map(UpgradeCaller)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_reject_tampering() {
        let t = Tokens::new("s3cret", 60);
        let token = t.mint("alice", "phone").unwrap();
        assert_eq!(
            t.verify(&token).unwrap(),
            Caller {
                user: "alice".into(),
                device: "phone".into()
            }
        );
        let other = Tokens::new("other", 60);
        assert_eq!(
            other.verify(&token).unwrap_err().code,
            ErrorCode::Unauthorized
        );
        assert!(t.verify("garbage").is_err());
        assert!(t.mint("bad user", "phone").is_err());
        let expired = Tokens::new("s3cret", 0);
        let old = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &Claims {
                sub: "a".into(),
                dev: "b".into(),
                exp: 1,
            },
            &expired.encoding,
        )
        .unwrap();
        assert!(t.verify(&old).is_err());
    }
}
