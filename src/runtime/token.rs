//! The token worker: calls the user's token and state getters off the core thread, since they
//! may block. One worker serves the connection and every subscription, one call at a time.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use super::Input;
use crate::error::Error;
use crate::token::{StateGetter, SubscriptionTokenGetter, TokenError, TokenGetter};

/// Calls the getter a request names; a panicking getter counts as a failure.
fn answer(request: TokenRequest) -> Input {
    let panicked = || "the getter panicked".to_string();
    match request {
        TokenRequest::Connection { attempt, getter } => Input::Token {
            attempt,
            result: catch_unwind(AssertUnwindSafe(|| getter.token()))
                .unwrap_or_else(|_| Err(TokenError::Failed(panicked()))),
        },
        TokenRequest::Subscription { attempt, channel, getter } => Input::SubToken {
            attempt,
            result: catch_unwind(AssertUnwindSafe(|| getter.token(&channel)))
                .unwrap_or_else(|_| Err(TokenError::Failed(panicked()))),
        },
        TokenRequest::State { attempt, channel, getter } => Input::SubState {
            attempt,
            result: catch_unwind(AssertUnwindSafe(|| getter.state(&channel)))
                .unwrap_or_else(|_| Err(panicked())),
        },
    }
}

/// What the worker is asked to get.
pub(crate) enum TokenRequest {
    Connection { attempt: u64, getter: Arc<dyn TokenGetter> },
    Subscription { attempt: u64, channel: Arc<str>, getter: Arc<dyn SubscriptionTokenGetter> },
    State { attempt: u64, channel: Arc<str>, getter: Arc<dyn StateGetter> },
}

/// A running worker; dropping `requests` makes it exit after the current call.
pub(crate) struct TokenWorker {
    requests: Sender<TokenRequest>,
    thread: JoinHandle<()>,
}

impl TokenWorker {
    pub(crate) fn spawn(to_core: Sender<Input>) -> Result<TokenWorker, Error> {
        let (requests, pending) = crossbeam_channel::unbounded::<TokenRequest>();
        let thread = super::spawn("centrifuge-token".into(), move || {
            for request in pending.iter() {
                if to_core.send(answer(request)).is_err() {
                    break;
                }
            }
            let _ = to_core.send(Input::TokenWorkerEnded);
        })?;
        Ok(TokenWorker { requests, thread })
    }

    /// Asks a getter; the answer arrives as an input with the request's attempt number.
    pub(crate) fn request(&self, request: TokenRequest) {
        let _ = self.requests.send(request);
    }

    /// Stops taking requests; the thread reports `TokenWorkerEnded` when it is done.
    pub(crate) fn finish(self) -> JoinHandle<()> {
        drop(self.requests);
        self.thread
    }
}
