//! The getter worker: calls the user's token and state getters off the core thread, since they
//! may block. One worker serves the connection and every subscription, one call at a time.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use super::Input;
use crate::error::Error;
use crate::token::{StateError, StateGetter, SubscriptionTokenGetter, TokenError, TokenGetter};

/// Calls the getter a request names; a panicking getter counts as a failure.
fn answer(request: GetterRequest) -> Input {
    let panicked = || "the getter panicked".to_string();
    match request {
        GetterRequest::Connection { attempt, getter } => Input::Token {
            attempt,
            result: catch_unwind(AssertUnwindSafe(|| getter.token()))
                .unwrap_or_else(|_| Err(TokenError::Failed(panicked()))),
        },
        GetterRequest::Subscription { attempt, channel, getter } => Input::SubscriptionToken {
            attempt,
            result: catch_unwind(AssertUnwindSafe(|| getter.token(&channel)))
                .unwrap_or_else(|_| Err(TokenError::Failed(panicked()))),
        },
        GetterRequest::State { attempt, channel, getter } => Input::SubscriptionPosition {
            attempt,
            result: catch_unwind(AssertUnwindSafe(|| getter.state(&channel)))
                .unwrap_or_else(|_| Err(StateError::Failed(panicked())))
                .map_err(|error| error.to_string()),
        },
    }
}

/// What the worker is asked to get.
pub(crate) enum GetterRequest {
    Connection { attempt: u64, getter: Arc<dyn TokenGetter> },
    Subscription { attempt: u64, channel: Arc<str>, getter: Arc<dyn SubscriptionTokenGetter> },
    State { attempt: u64, channel: Arc<str>, getter: Arc<dyn StateGetter> },
}

/// A running worker; dropping `requests` makes it exit after the current call.
pub(crate) struct GetterWorker {
    requests: Sender<GetterRequest>,
    thread: JoinHandle<()>,
}

impl GetterWorker {
    pub(crate) fn spawn(to_core: Sender<Input>) -> Result<GetterWorker, Error> {
        let (requests, pending) = crossbeam_channel::unbounded::<GetterRequest>();
        let thread = super::spawn("centrifuge-getters".into(), move || {
            for request in pending.iter() {
                if to_core.send(answer(request)).is_err() {
                    break;
                }
            }
            let _ = to_core.send(Input::GettersEnded);
        })?;
        Ok(GetterWorker { requests, thread })
    }

    /// Asks a getter; the answer arrives as an input with the request's attempt number.
    pub(crate) fn request(&self, request: GetterRequest) {
        let _ = self.requests.send(request);
    }

    /// Stops taking requests; the thread reports `GettersEnded` when it is done.
    pub(crate) fn finish(self) -> JoinHandle<()> {
        drop(self.requests);
        self.thread
    }
}
