//! Helpers shared by the integration tests (each test file includes this module).

#![allow(dead_code)] // Each test file uses a different subset.

#[allow(unused_macros)] // Not every test file runs scenarios in both protocols.
/// Turns each scenario `fn name(protocol: Protocol)` into two tests, `json::name` and
/// `protobuf::name`. The calling file must have `Protocol` in scope.
macro_rules! in_both_protocols {
    ($($name:ident),* $(,)?) => {
        mod json {
            $( #[test] fn $name() { super::$name(super::Protocol::Json) } )*
        }
        mod protobuf {
            $( #[test] fn $name() { super::$name(super::Protocol::Protobuf) } )*
        }
    };
}

pub mod events;
pub mod fake_server;
pub mod fault_proxy;
pub mod panics;
pub mod proxy;
pub mod raw;
