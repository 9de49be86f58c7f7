//! The state machine under simulated time: no sockets, no threads, no sleeps.
//!
//! [`sim`] holds the simulation and the readers of effects; the tests are grouped by what
//! they exercise.

mod calls;
mod connection;
mod sim;
mod subscriptions;
mod tokens;
