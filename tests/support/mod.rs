//! Helpers shared by the integration tests (each test file includes this module).

#![allow(dead_code)] // Each test file uses a different subset.

pub mod events;
pub mod fake_server;
pub mod proxy;
pub mod raw;
