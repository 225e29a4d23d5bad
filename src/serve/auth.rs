//! Access to the feeds when `[server].token` is set.
//!
//! A request is admitted when it carries the token as `?token=`, as
//! `Authorization: Bearer <token>`, or as the password of HTTP Basic (any
//! user name: many readers only offer Basic). The comparison is constant-time
//! over SHA-256 digests, so neither the content nor the length of the token
//! leaks through response timing.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The configured token, kept as its digest.
#[derive(Clone)]
pub struct Token([u8; 32]);

impl Token {
    pub fn new(token: &str) -> Token {
        Token(Sha256::digest(token.as_bytes()).into())
    }

    fn is(&self, candidate: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(candidate).into();
        bool::from(self.0.ct_eq(&digest))
    }

    /// Whether the request carries the token: in the query (`query_token`),
    /// or in its `Authorization` header.
    pub fn admits(&self, headers: &HeaderMap, query_token: Option<&str>) -> bool {
        if query_token.is_some_and(|t| self.is(t.as_bytes())) {
            return true;
        }
        let Some(value) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
        else {
            return false;
        };
        let (scheme, credentials) = value.trim().split_once(' ').unwrap_or((value, ""));
        let credentials = credentials.trim();
        if scheme.eq_ignore_ascii_case("bearer") {
            self.is(credentials.as_bytes())
        } else if scheme.eq_ignore_ascii_case("basic") {
            STANDARD
                .decode(credentials)
                .ok()
                .and_then(|decoded| {
                    let colon = decoded.iter().position(|&b| b == b':')?;
                    Some(self.is(&decoded[colon + 1..]))
                })
                .unwrap_or(false)
        } else {
            false
        }
    }
}

/// `401` with both challenges a reader may answer.
pub fn unauthorized() -> Response {
    let mut response = (
        StatusCode::UNAUTHORIZED,
        "this feed needs the server's token: as ?token=, a Bearer token, or a Basic password\n",
    )
        .into_response();
    let h = response.headers_mut();
    h.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Bearer realm=\"wiredesk\""),
    );
    h.append(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"wiredesk\", charset=\"UTF-8\""),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(authorization).unwrap(),
        );
        h
    }

    #[test]
    fn the_token_is_accepted_in_the_query_as_bearer_or_as_basic_password() {
        let t = Token::new("s3cret-token-0123");
        let none = HeaderMap::new();
        assert!(t.admits(&none, Some("s3cret-token-0123")));
        assert!(!t.admits(&none, Some("s3cret-token-012")));
        assert!(!t.admits(&none, None));
        assert!(t.admits(&headers("Bearer s3cret-token-0123"), None));
        assert!(t.admits(&headers("bearer  s3cret-token-0123"), None));
        assert!(!t.admits(&headers("Bearer wrong"), None));
        let basic = STANDARD.encode("reader:s3cret-token-0123");
        assert!(t.admits(&headers(&format!("Basic {basic}")), None));
        let basic = STANDARD.encode("s3cret-token-0123:");
        assert!(!t.admits(&headers(&format!("Basic {basic}")), None));
        assert!(!t.admits(&headers("Basic !!!"), None));
        assert!(!t.admits(&headers("Digest s3cret-token-0123"), None));
    }
}
