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
    /// `error` event and asks again: when connecting, after the reconnect backoff
    /// (`min_reconnect_delay` growing to `max_reconnect_delay`); when refreshing the token of
    /// a live connection or subscription, after a jittered 10–20 s.
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

/// Gets a subscription token for a channel (a JWT from your backend).
///
/// Called before subscribing when the subscription has no token, when the token expires
/// (proactively, at the subscription's `ttl`) and after the server answered 109. Runs on the
/// client's getter thread, so it may block. An empty token or [`TokenError::Unauthorized`]
/// leaves the subscription unsubscribed with code 1.
///
/// Closures work: `SubscriptionConfig::default().token_getter(|channel: &str| fetch(channel))`.
pub trait SubscriptionTokenGetter: Send + Sync {
    /// Returns a token for `channel`, or why there is none.
    fn token(&self, channel: &str) -> Result<String, TokenError>;
}

impl<F> SubscriptionTokenGetter for F
where
    F: Fn(&str) -> Result<String, TokenError> + Send + Sync,
{
    fn token(&self, channel: &str) -> Result<String, TokenError> {
        self(channel)
    }
}

/// Why a state getter produced no position.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    /// Loading the state failed for now (e.g. the backend is down). The subscription reports an
    /// `error` event ([`Error::StateGetter`](crate::Error::StateGetter)) and tries again with
    /// backoff.
    Failed(String),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for StateError {}

/// Loads the application's state for a channel and says from which stream position to
/// follow it (the "getState" feature, Centrifugo 6.8 and later).
///
/// Called when the subscription has no position yet, and again whenever the server cannot
/// recover from the position it returned (error 112): load a fresh snapshot, return the
/// position it corresponds to, and the subscription delivers everything after it. Runs on
/// the client's getter thread, so it may block.
///
/// Closures work: `SubscriptionConfig::default().state_getter(|channel: &str| load(channel))`,
/// returning `Result<StreamPosition, StateError>`.
pub trait StateGetter: Send + Sync {
    /// Loads the state of `channel`; returns the position the state corresponds to.
    fn state(&self, channel: &str) -> Result<crate::types::StreamPosition, StateError>;
}

impl<F> StateGetter for F
where
    F: Fn(&str) -> Result<crate::types::StreamPosition, StateError> + Send + Sync,
{
    fn state(&self, channel: &str) -> Result<crate::types::StreamPosition, StateError> {
        self(channel)
    }
}
