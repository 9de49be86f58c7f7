//! What a subscription asks its getters for, and what it does with the answers: a token to
//! subscribe with, a fresh token for the subscription (the proactive refresh at the `ttl`),
//! the position to follow the stream from (the state getter).

use std::collections::HashMap;
use std::time::Duration;

use super::{Phase, Sub, SubContext, SubId, SubRefresh};
use crate::backoff;
use crate::codes::Reason;
use crate::core::calls::Purpose;
use crate::core::effects::Effect;
use crate::core::{TOKEN_RETRY_MAX, TOKEN_RETRY_MIN};
use crate::error::{Error, ServerError, TimeoutError};
use crate::protocol::{Command, Reply, SubRefreshRequest};
use crate::token::TokenError;
use crate::types::StreamPosition;

/// What a getter request is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Fetch {
    /// A token to subscribe with (the state getter's position comes first, if any).
    SubscribeToken,
    /// A fresh token for the subscribed subscription.
    RefreshToken,
    /// The position to follow the stream from.
    Position,
}

/// Getter requests in flight for subscriptions: the answer to one carries only its attempt
/// number, this says whose it is. The subscription itself knows which of its requests is
/// current; answers to any other are ignored.
#[derive(Debug, Default)]
pub(in crate::core) struct Fetches {
    /// The number of the latest request.
    last_attempt: u64,
    /// The subscription each request in flight is for.
    by_attempt: HashMap<u64, SubId>,
}

impl Fetches {
    /// Numbers a new request for `sub`.
    fn start(&mut self, sub: SubId) -> u64 {
        self.last_attempt += 1;
        self.by_attempt.insert(self.last_attempt, sub);
        self.last_attempt
    }

    /// The subscription request `attempt` was for, if it was made and not answered yet.
    pub(in crate::core) fn finish(&mut self, attempt: u64) -> Option<SubId> {
        self.by_attempt.remove(&attempt)
    }
}

impl<S> Sub<S> {
    /// Asks the getter for what `fetch` names.
    pub(super) fn fetch(&mut self, fetch: Fetch, cx: &mut SubContext<'_, S>) {
        let attempt = cx.fetches.start(self.id);
        let (sub, channel) = (self.id, self.settings.channel.clone());
        let effect = match fetch {
            Fetch::SubscribeToken => {
                self.phase = Phase::FetchingToken(attempt);
                Effect::FetchSubscriptionToken { attempt, sub, channel }
            }
            Fetch::RefreshToken => {
                self.refresh = SubRefresh::Fetching(attempt);
                Effect::FetchSubscriptionToken { attempt, sub, channel }
            }
            Fetch::Position => {
                self.phase = Phase::FetchingState(attempt);
                Effect::FetchSubscriptionPosition { attempt, sub, channel }
            }
        };
        cx.out.push(effect);
    }

    /// The token getter answered request `attempt`.
    pub(in crate::core) fn token_fetched(
        &mut self,
        attempt: u64,
        result: Result<String, TokenError>,
        cx: &mut SubContext<'_, S>,
    ) {
        let fetch = if self.phase == Phase::FetchingToken(attempt) {
            Fetch::SubscribeToken
        } else if self.refresh == SubRefresh::Fetching(attempt) {
            Fetch::RefreshToken
        } else {
            return;
        };
        match (fetch, result) {
            (_, Ok(token)) if token.is_empty() => self.unauthorized(cx),
            (_, Err(TokenError::Unauthorized)) => self.unauthorized(cx),
            (Fetch::SubscribeToken, Ok(token)) => {
                self.token = token;
                self.phase = Phase::Idle;
                self.start_subscribe(cx);
            }
            (_, Ok(token)) => self.send_refresh(token, cx),
            (Fetch::SubscribeToken, Err(TokenError::Failed(why))) => {
                self.phase = Phase::Idle;
                self.emit_error(Error::Token(why), cx.out);
                self.schedule_resubscribe(cx);
            }
            (_, Err(TokenError::Failed(why))) => {
                self.emit_error(Error::Token(why), cx.out);
                self.retry_refresh(cx);
            }
        }
    }

    /// The state getter answered request `attempt`.
    pub(in crate::core) fn position_fetched(
        &mut self,
        attempt: u64,
        result: Result<StreamPosition, String>,
        cx: &mut SubContext<'_, S>,
    ) {
        if self.phase != Phase::FetchingState(attempt) {
            return;
        }
        self.phase = Phase::Idle;
        match result {
            Ok(position) => {
                self.recover = true;
                self.offset = position.offset;
                self.epoch = position.epoch;
                self.start_subscribe(cx);
            }
            Err(why) => {
                self.emit_error(Error::StateGetter(why), cx.out);
                self.schedule_resubscribe(cx);
            }
        }
    }

    // ---- token refresh -------------------------------------------------------------------

    fn send_refresh(&mut self, token: String, cx: &mut SubContext<'_, S>) {
        let Some(generation) = cx.writable else { return };
        let id = cx.config.ids.next();
        self.token = token.clone();
        self.refresh = SubRefresh::InFlight(id);
        let request =
            SubRefreshRequest { channel: self.settings.channel.to_string(), token, ..Default::default() };
        cx.out.send(generation, Command { id, sub_refresh: Some(Box::new(request)), ..Default::default() });
        cx.calls.insert(id, Purpose::SubscriptionRefresh(self.id), cx.command_deadline());
    }

    /// The reply to the refresh command; ignored unless it answers the refresh in flight (an
    /// unsubscribe or a lost connection gives that refresh up).
    pub(in crate::core) fn refresh_reply(&mut self, reply: Reply, cx: &mut SubContext<'_, S>) {
        if self.refresh != SubRefresh::InFlight(reply.id) {
            return;
        }
        if let Some(error) = reply.error {
            let temporary = error.temporary;
            let reason = Reason::from_server(error.code, error.message.clone());
            let error = ServerError { code: error.code, message: error.message, temporary };
            self.emit_error(Error::Server(error), cx.out);
            if temporary {
                self.retry_refresh(cx);
            } else {
                self.send_unsubscribe(cx);
                self.end(reason, Error::Unsubscribed, cx.out);
            }
            return;
        }
        let result = reply.sub_refresh.unwrap_or_default();
        self.refresh = if result.expires {
            SubRefresh::Due(cx.now + Duration::from_secs(u64::from(result.ttl)))
        } else {
            SubRefresh::Idle
        };
    }

    /// The refresh command `command` got no reply in time: reported, and tried again later,
    /// unless that refresh has been given up since.
    pub(in crate::core) fn refresh_timed_out(&mut self, command: u32, cx: &mut SubContext<'_, S>) {
        if self.refresh != SubRefresh::InFlight(command) {
            return;
        }
        self.emit_error(Error::Timeout(TimeoutError::reply(cx.config.timeout)), cx.out);
        self.retry_refresh(cx);
    }

    /// Refreshes again in 10–20 s.
    fn retry_refresh(&mut self, cx: &mut SubContext<'_, S>) {
        let delay = backoff::uniform(TOKEN_RETRY_MIN, TOKEN_RETRY_MAX, cx.rng);
        self.refresh = SubRefresh::Due(cx.now + delay);
    }
}
