//! Token getters: where fresh connection tokens come from.

use std::fmt;

/// Why a token getter produced no token.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenError {
    /// The user may not connect (e.g. logged out). The client stops: `disconnected` with
    /// code 1 "unauthorized", no retry.
    Unauthorized,
    /// Getting a token failed for now (e.g. the backend is down). The client reports an
    /// `error` event and asks again after a jittered 10–20 s.
    Failed(String),
}

impl fmt::Display for TokenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenError::Unauthorized => f.write_str("unauthorized"),
            TokenError::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for TokenError {}

/// Gets a fresh connection token (a JWT from your backend).
///
/// Called on a thread of the client's own, never on a listener thread, so it may block. An
/// empty token is a valid answer before connecting (anonymous connection), but means
/// "unauthorized" when refreshing an expiring connection.
///
/// Closures work: `ClientConfig::default().token_getter(|| fetch_token())`.
pub trait TokenGetter: Send + Sync {
    /// Returns a token, or why there is none.
    fn token(&self) -> Result<String, TokenError>;
}

impl<F> TokenGetter for F
where
    F: Fn() -> Result<String, TokenError> + Send + Sync,
{
    fn token(&self) -> Result<String, TokenError> {
        self()
    }
}
