//! The server's errors: each is a JSON body `{"error": "<one line>"}` with a status that says
//! whose fault it is. Bad input is 400 (with the command line's own message), an unknown
//! transaction or an address the chain never paid is 404, and only a failure of the server
//! itself (a corrupt database) is 500.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use tracing::error;

use crate::error::{QueryError, UsageError};

/// Why a request got no answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// Malformed input: the reason, on one line.
    #[error("{0}")]
    BadRequest(String),
    /// The index does not have what was asked for.
    #[error("{0}")]
    NotFound(String),
    #[error("this server needs a token: send `Authorization: Bearer <token>`, the content of its --token-file")]
    Unauthorized,
    /// The answer is larger than the server sends.
    #[error("{0}")]
    TooLarge(String),
    /// No such endpoint.
    #[error("no endpoint {0}: see /api/v1/openapi.json for the endpoints and their parameters")]
    NoRoute(String),
    #[error("only GET is served: the API reads, it never writes")]
    MethodNotAllowed,
    /// The server failed, not the request.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::NotFound(_) | ApiError::NoRoute(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::TooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        let mut text = serde_json::json!({ "error": one_line(&self.to_string()) }).to_string();
        text.push('\n');
        text
    }
}

/// Messages are one line, however their causes were written.
fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

impl From<UsageError> for ApiError {
    fn from(e: UsageError) -> Self {
        ApiError::BadRequest(e.to_string())
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        let text = e.to_string();
        match e {
            QueryError::Usage(_) => ApiError::BadRequest(text),
            QueryError::UnknownTx { .. }
            | QueryError::UnknownTxPrefix { .. }
            | QueryError::UnseenAddress { .. }
            | QueryError::NoSuchOutput { .. }
            | QueryError::NoClusters => ApiError::NotFound(text),
            // A corrupt or unreadable database, a tag store that fails: the server's trouble.
            _ => {
                error!("answering a request: {text}");
                ApiError::Internal(text)
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let headers = [(axum::http::header::CONTENT_TYPE, "application/json")];
        (self.status(), headers, self.body()).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_400_unknown_ids_404_and_only_the_servers_failures_500() {
        let status = |e: QueryError| ApiError::from(e).status();
        assert_eq!(status(QueryError::Usage(UsageError::Txid("zz".into()))), StatusCode::BAD_REQUEST);
        let other_network =
            UsageError::WrongNetwork { address: "bc1q".into(), found: "mainnet", expected: "regtest".into() };
        assert_eq!(status(other_network.into()), StatusCode::BAD_REQUEST);
        assert_eq!(
            ApiError::from(UsageError::Range { name: "hops", min: "1".into(), max: "100".into(), got: "0".into() })
                .status(),
            StatusCode::BAD_REQUEST
        );
        let unknown = QueryError::UnknownTx { txid: "00".repeat(32), tip: "height 3".into() };
        assert_eq!(status(unknown), StatusCode::NOT_FOUND);
        let unseen = QueryError::UnseenAddress { address: "bcrt1q".into(), tip: "height 3".into() };
        assert_eq!(status(unseen), StatusCode::NOT_FOUND);
        assert_eq!(status(QueryError::NoSuchOutput { txid: "t".into(), vout: 9, count: 2 }), StatusCode::NOT_FOUND);
        assert_eq!(status(QueryError::Corrupt("no row".into())), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(ApiError::Unauthorized.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(ApiError::TooLarge("big".into()).status(), StatusCode::PAYLOAD_TOO_LARGE);
    }

    #[test]
    fn the_body_is_the_one_line_message_as_json() {
        let prefix = ApiError::from(QueryError::UnknownTxPrefix { prefix: "abcd1234".into(), tip: "height 3".into() });
        assert_eq!(prefix.status(), StatusCode::NOT_FOUND);
        let ambiguous = UsageError::AmbiguousTxid { prefix: "abcd1234".into(), matches: "x, y".into() };
        let ambiguous = ApiError::from(QueryError::Usage(ambiguous));
        assert_eq!(ambiguous.status(), StatusCode::BAD_REQUEST);
        let e = ApiError::from(QueryError::UnknownTx { txid: "ab".into(), tip: "height 3".into() });
        assert_eq!(e.body(), "{\"error\":\"transaction ab is not in the index (indexed up to height 3)\"}\n");
        let e = ApiError::Internal("first\n  second".into());
        let body: serde_json::Value = serde_json::from_str(&e.body()).unwrap();
        assert_eq!(body["error"], "first second");
    }
}
