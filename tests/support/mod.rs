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
pub mod http_fake;
pub mod panics;
pub mod portal;
pub mod proxy;
pub mod raw;
pub mod socks;
pub mod transports;

/// `path` under Linux's `/proc`, where tests count this process's threads, descriptors, sockets
/// and memory. Other systems have no `/proc`: there a test that counts stops here, saying so,
/// instead of passing on counts of zero. (The tests run on Linux; elsewhere they only
/// type-check.)
#[cfg(target_os = "linux")]
pub fn linux_proc(path: &str) -> &str {
    path
}

/// `path` under Linux's `/proc`: not on this system, so the test stops here.
#[cfg(not(target_os = "linux"))]
pub fn linux_proc(path: &str) -> &str {
    panic!("this test reads {path}, and only Linux has /proc: it runs on Linux only")
}
