//! The bearer token: read from `--token-file`, required to listen beyond loopback, and checked
//! on every request in constant time.

use std::net::SocketAddr;
use std::path::Path;

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::errors::ApiError;
use super::AppState;
use crate::error::UsageError;

/// The secret every request must send as `Authorization: Bearer <token>`.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// The token of a token file: its content, trimmed; an empty file is refused.
    pub fn read(path: &Path) -> Result<Token, UsageError> {
        let shown = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| UsageError::Serve(format!("cannot read --token-file {shown}: {e}")))?;
        let token = text.trim();
        if token.is_empty() {
            return Err(UsageError::Serve(format!("--token-file {shown} is empty: put the token in it")));
        }
        Ok(Token(token.to_string()))
    }

    /// Whether an `Authorization` header's value carries this token.
    pub fn admits(&self, header: Option<&[u8]>) -> bool {
        let given = header.and_then(|h| h.strip_prefix(b"Bearer ")).unwrap_or_default();
        same(given.trim_ascii(), self.0.as_bytes())
    }
}

/// The token the server needs: the file's when one is given; none on loopback without one;
/// elsewhere a usage error, as anyone who can reach the address could ask.
pub fn required(listen: SocketAddr, file: Option<&Path>) -> Result<Option<Token>, UsageError> {
    match file {
        Some(path) => Token::read(path).map(Some),
        None if listen.ip().is_loopback() => Ok(None),
        None => Err(UsageError::Serve(format!(
            "--listen {listen} is not a loopback address: give --token-file FILE, whose content every request \
             must send as `Authorization: Bearer <token>`"
        ))),
    }
}

/// Equal contents, compared in time that depends on the lengths only.
fn same(a: &[u8], b: &[u8]) -> bool {
    let mut diff = a.len() ^ b.len();
    for i in 0..a.len().max(b.len()) {
        let x = a.get(i).copied().unwrap_or(0);
        let y = b.get(i).copied().unwrap_or(0);
        diff |= usize::from(x ^ y);
    }
    std::hint::black_box(diff) == 0
}

/// Middleware: refuses a request without the token with 401 (when the server has one).
pub async fn check(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(token) = &state.token {
        let header = request.headers().get(AUTHORIZATION).map(|v| v.as_bytes());
        if !token.admits(header) {
            return ApiError::Unauthorized.into_response();
        }
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_exact_token_is_admitted() {
        let token = Token("s3cret".into());
        assert!(token.admits(Some(b"Bearer s3cret")));
        assert!(token.admits(Some(b"Bearer s3cret ")));
        for bad in [&b"Bearer s3cre"[..], b"Bearer s3crets", b"bearer s3cret", b"s3cret", b"Bearer ", b""] {
            assert!(!token.admits(Some(bad)), "{}", String::from_utf8_lossy(bad));
        }
        assert!(!token.admits(None));
    }

    #[test]
    fn a_token_is_needed_beyond_loopback_and_read_trimmed_from_its_file() {
        let loopback: SocketAddr = "127.0.0.1:3030".parse().unwrap();
        assert!(required(loopback, None).unwrap().is_none());
        assert!(required("[::1]:3030".parse().unwrap(), None).unwrap().is_none());
        let err = required("0.0.0.0:3030".parse().unwrap(), None).unwrap_err().to_string();
        assert!(err.contains("--token-file") && err.contains("0.0.0.0:3030"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "  abc\n").unwrap();
        let token = required(loopback, Some(&file)).unwrap().unwrap();
        assert!(token.admits(Some(b"Bearer abc")));
        std::fs::write(&file, " \n").unwrap();
        assert!(required(loopback, Some(&file)).unwrap_err().to_string().contains("is empty"));
        let missing = dir.path().join("none");
        assert!(required(loopback, Some(&missing)).unwrap_err().to_string().contains("cannot read"));
    }
}
