//! The token worker: calls the user's token getter off the core thread, since it may block.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

use super::Input;
use crate::error::Error;
use crate::token::{TokenError, TokenGetter};

/// A running worker; dropping `requests` makes it exit after the current call.
pub(crate) struct TokenWorker {
    requests: Sender<u64>,
    thread: JoinHandle<()>,
}

impl TokenWorker {
    pub(crate) fn spawn(getter: Arc<dyn TokenGetter>, to_core: Sender<Input>) -> Result<TokenWorker, Error> {
        let (requests, pending) = crossbeam_channel::unbounded::<u64>();
        let thread = super::spawn("centrifuge-token".into(), move || {
            for attempt in pending.iter() {
                let result = catch_unwind(AssertUnwindSafe(|| getter.token()))
                    .unwrap_or_else(|_| Err(TokenError::Failed("the token getter panicked".into())));
                if to_core.send(Input::Token { attempt, result }).is_err() {
                    break;
                }
            }
            let _ = to_core.send(Input::TokenWorkerEnded);
        })?;
        Ok(TokenWorker { requests, thread })
    }

    /// Asks for a token; the answer arrives as `Input::Token` with this attempt number.
    pub(crate) fn request(&self, attempt: u64) {
        let _ = self.requests.send(attempt);
    }

    /// Stops taking requests; the thread reports `TokenWorkerEnded` when it is done.
    pub(crate) fn finish(self) -> JoinHandle<()> {
        drop(self.requests);
        self.thread
    }
}
