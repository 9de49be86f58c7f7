//! The proactive refresh of an expiring connection token: at the `ttl` the server gave, ask
//! the getter for a fresh token and send it in a refresh command.

use std::time::{Duration, Instant};

use super::calls::Purpose;
use super::connection::TokenPurpose;
use super::{Core, TOKEN_RETRY_MAX, TOKEN_RETRY_MIN};
use crate::backoff;
use crate::codes::{DisconnectedCode, Reason};
use crate::error::{Error, ServerError};
use crate::protocol::{Command, RefreshRequest, Reply};
use crate::token::TokenError;
use crate::types::ClientState;

/// Where the refresh of the connection token stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Refresh {
    /// The token does not expire, or there is no connection.
    Idle,
    /// Refresh at this moment.
    Due(Instant),
    /// Waiting for the token getter.
    Fetching,
    /// The refresh command is out.
    InFlight,
}

impl<S> Core<S> {
    /// The refresh is due: ask the getter.
    pub(super) fn start_refresh(&mut self) {
        if !self.config.has_token_getter || self.state != ClientState::Connected {
            // Nothing to refresh with: the server expires the connection (3005), the client
            // reconnects, gets 109, and reports the missing getter then.
            self.refresh = Refresh::Idle;
            return;
        }
        self.refresh = Refresh::Fetching;
        self.fetch_token(TokenPurpose::Refresh);
    }

    /// The getter answered: send the fresh token.
    pub(super) fn refresh_token(&mut self, result: Result<String, TokenError>, now: Instant) {
        let token = match result {
            Ok(token) if !token.is_empty() => token,
            Ok(_) | Err(TokenError::Unauthorized) => {
                self.stop(DisconnectedCode::Unauthorized, Error::Disconnected);
                return;
            }
            Err(TokenError::Failed(why)) => {
                self.emit_error(Error::Token(why));
                self.retry_refresh_later(now);
                return;
            }
        };
        let Some(generation) = self.link.up() else {
            self.refresh = Refresh::Idle;
            return;
        };
        self.token = token.clone();
        let id = self.next_id();
        let command = Command { id, refresh: Some(RefreshRequest { token }), ..Default::default() };
        self.effects.send(generation, command);
        self.calls.insert(id, Purpose::ConnectionRefresh, now + self.config.timeout);
        self.refresh = Refresh::InFlight;
    }

    /// The reply to the refresh command.
    pub(super) fn refresh_reply(&mut self, reply: Reply, now: Instant) {
        if let Some(error) = reply.error {
            let temporary = error.temporary;
            let reason = Reason::from_server(error.code, error.message.clone());
            self.emit_error(Error::Server(ServerError {
                code: error.code,
                message: error.message,
                temporary,
            }));
            if temporary {
                self.retry_refresh_later(now);
            } else {
                self.stop(reason, Error::Disconnected);
            }
            return;
        }
        let result = reply.refresh.unwrap_or_default();
        self.refresh = if result.expires {
            Refresh::Due(now + Duration::from_secs(u64::from(result.ttl)))
        } else {
            Refresh::Idle
        };
    }

    /// The getter failed or the refresh command timed out: try again in 10–20 s.
    pub(super) fn retry_refresh_later(&mut self, now: Instant) {
        self.refresh = Refresh::Due(now + backoff::uniform(TOKEN_RETRY_MIN, TOKEN_RETRY_MAX, &mut self.rng));
    }
}
