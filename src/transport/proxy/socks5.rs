//! SOCKS5 `CONNECT` (RFC 1928), with user name and password authentication (RFC 1929).
//!
//! One session per TCP connection to the proxy: greeting (the methods offered: no
//! authentication, and user name/password when credentials are set), the sub-negotiation when
//! the proxy picks user name/password, then the `CONNECT` request for an IP address or, when
//! the proxy resolves names (`socks5h`), the host name. The reply is read to its exact length,
//! which depends on the type of its bound address: the bytes after it are the server's.
//!
//! When the client resolves the name, [`connect_to_any`] tries each address in turn, one
//! session each, as long as the proxy says it could not reach the previous one.

use std::net::{IpAddr, TcpStream};

use super::{ResolvedProxy, host_port, read_exact, write_all};
use crate::error::TransportError;
use crate::transport::DialBudget;

const VERSION: u8 = 5;
const NO_AUTHENTICATION: u8 = 0x00;
const USER_PASSWORD: u8 = 0x02;
const NO_ACCEPTABLE_METHOD: u8 = 0xff;
/// The version of the RFC 1929 sub-negotiation.
const AUTH_VERSION: u8 = 1;
const CONNECT: u8 = 1;
const IPV4: u8 = 1;
const DOMAIN: u8 = 3;
const IPV6: u8 = 4;
/// The reply code "command not supported": no other address would fare better.
const COMMAND_NOT_SUPPORTED: u8 = 7;

/// What the proxy is asked to connect to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Destination {
    Ip(IpAddr),
    /// A host name, resolved by the proxy.
    Name(String),
}

impl Destination {
    fn describe(&self, port: u16) -> String {
        match self {
            Destination::Ip(ip) => host_port(&ip.to_string(), port),
            Destination::Name(name) => host_port(name, port),
        }
    }
}

/// Why a SOCKS5 session failed.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The proxy could not reach this destination (its reply said so); another address of
    /// the same server may do.
    Unreachable(TransportError),
    /// Anything else: the proxy, its authentication or the connection to it failed.
    Other(TransportError),
}

impl From<TransportError> for Failure {
    fn from(error: TransportError) -> Failure {
        Failure::Other(error)
    }
}

#[cfg(test)]
impl Failure {
    fn into_error(self) -> TransportError {
        match self {
            Failure::Unreachable(error) | Failure::Other(error) => error,
        }
    }
}

/// Tries `destinations` in turn, each through a new connection from `open`, until the proxy
/// connects one; stops at the first failure that is not about reaching the destination.
pub(crate) fn connect_to_any(
    destinations: &[Destination],
    port: u16,
    proxy: &ResolvedProxy,
    budget: &DialBudget,
    mut open: impl FnMut() -> Result<TcpStream, TransportError>,
) -> Result<TcpStream, TransportError> {
    let mut last = None;
    for destination in destinations {
        let tcp = open()?;
        match connect(&tcp, proxy, destination, port, budget) {
            Ok(()) => return Ok(tcp),
            Err(Failure::Unreachable(error)) => {
                log::debug!("{error}");
                last = Some(error);
            }
            Err(Failure::Other(error)) => return Err(error),
        }
    }
    Err(last.unwrap_or_else(|| TransportError::new("no address to ask the SOCKS5 proxy for")))
}

/// Runs one SOCKS5 session on `tcp`: on success the stream leads to `destination:port`.
pub(crate) fn connect(
    tcp: &TcpStream,
    proxy: &ResolvedProxy,
    destination: &Destination,
    port: u16,
    budget: &DialBudget,
) -> Result<(), Failure> {
    let methods: &[u8] = match proxy.credentials {
        Some(_) => &[NO_AUTHENTICATION, USER_PASSWORD],
        None => &[NO_AUTHENTICATION],
    };
    let mut greeting = vec![VERSION, methods.len() as u8];
    greeting.extend_from_slice(methods);
    write_all(tcp, &greeting, proxy, &format!("sending the greeting to the {proxy}"), budget)?;
    let mut choice = [0u8; 2];
    read_exact(tcp, &mut choice, proxy, &format!("waiting for the {proxy} to answer the greeting"), budget)?;
    if choice[0] != VERSION {
        return Err(Failure::Other(TransportError::new(format!(
            "the {proxy} does not answer as a SOCKS5 proxy (its first byte is {:#04x}, not 0x05)",
            choice[0]
        ))));
    }
    match (choice[1], &proxy.credentials) {
        (NO_AUTHENTICATION, _) => {}
        (USER_PASSWORD, Some(credentials)) => {
            let (user, password) = (credentials.user.as_bytes(), credentials.password.as_bytes());
            // Checked when configured or read from the environment.
            let (Ok(user_length), Ok(password_length)) =
                (u8::try_from(user.len()), u8::try_from(password.len()))
            else {
                return Err(Failure::Other(TransportError::new(
                    "SOCKS5 user name and password must be at most 255 bytes each",
                )));
            };
            let mut request = Vec::with_capacity(3 + user.len() + password.len());
            request.extend_from_slice(&[AUTH_VERSION, user_length]);
            request.extend_from_slice(user);
            request.push(password_length);
            request.extend_from_slice(password);
            write_all(
                tcp,
                &request,
                proxy,
                &format!("sending the user name and password to the {proxy}"),
                budget,
            )?;
            let mut status = [0u8; 2];
            let step = format!("waiting for the {proxy} to check the user name and password");
            read_exact(tcp, &mut status, proxy, &step, budget)?;
            // Some proxies answer with version 5 here; only the status matters.
            if status[1] != 0 {
                return Err(Failure::Other(TransportError::new(format!(
                    "the {proxy} refused the user name and password (status {})",
                    status[1]
                ))));
            }
        }
        (NO_ACCEPTABLE_METHOD, None) => {
            return Err(Failure::Other(TransportError::new(format!(
                "the {proxy} wants authentication; set a user name and password for it"
            ))));
        }
        (NO_ACCEPTABLE_METHOD, Some(_)) => {
            return Err(Failure::Other(TransportError::new(format!(
                "the {proxy} accepts neither no authentication nor a user name and password"
            ))));
        }
        (other, _) => {
            return Err(Failure::Other(TransportError::new(format!(
                "the {proxy} chose authentication method {other:#04x}, which the client did not offer"
            ))));
        }
    }

    let described = destination.describe(port);
    let mut request = vec![VERSION, CONNECT, 0];
    match destination {
        Destination::Ip(IpAddr::V4(ip)) => {
            request.push(IPV4);
            request.extend_from_slice(&ip.octets());
        }
        Destination::Ip(IpAddr::V6(ip)) => {
            request.push(IPV6);
            request.extend_from_slice(&ip.octets());
        }
        Destination::Name(name) => {
            let Ok(length) = u8::try_from(name.len()) else {
                return Err(Failure::Other(TransportError::new(format!(
                    "the host name {name:?} is longer than the 255 bytes SOCKS5 can carry"
                ))));
            };
            request.extend_from_slice(&[DOMAIN, length]);
            request.extend_from_slice(name.as_bytes());
        }
    }
    request.extend_from_slice(&port.to_be_bytes());
    write_all(tcp, &request, proxy, &format!("asking the {proxy} to connect to {described}"), budget)?;

    let step = format!("waiting for the {proxy} to connect to {described}");
    let mut head = [0u8; 2];
    read_exact(tcp, &mut head, proxy, &step, budget)?;
    if head[0] != VERSION {
        return Err(Failure::Other(TransportError::new(format!(
            "the {proxy} sent a malformed reply (version byte {:#04x})",
            head[0]
        ))));
    }
    if head[1] != 0 {
        let mut error = format!(
            "the {proxy} could not connect to {described}: {} (SOCKS5 reply {})",
            meaning(head[1]),
            head[1]
        );
        if head[1] == 8 && matches!(destination, Destination::Name(_)) {
            error.push_str("; it may not resolve host names: let the client resolve them (socks5://)");
        }
        let error = TransportError::new(error);
        return Err(if head[1] == COMMAND_NOT_SUPPORTED {
            Failure::Other(error)
        } else {
            Failure::Unreachable(error)
        });
    }
    // The bound address: its length depends on its type. Read all of it and nothing more.
    let mut address_type = [0u8; 2];
    read_exact(tcp, &mut address_type, proxy, &step, budget)?;
    let rest = match address_type[1] {
        IPV4 => 4 + 2,
        IPV6 => 16 + 2,
        DOMAIN => {
            let mut length = [0u8; 1];
            read_exact(tcp, &mut length, proxy, &step, budget)?;
            usize::from(length[0]) + 2
        }
        other => {
            return Err(Failure::Other(TransportError::new(format!(
                "the {proxy} sent a malformed reply (address type {other})"
            ))));
        }
    };
    let mut bound = [0u8; 255 + 2];
    read_exact(tcp, &mut bound[..rest], proxy, &step, budget)?;
    Ok(())
}

/// What a SOCKS5 reply code means (RFC 1928 §6).
fn meaning(code: u8) -> &'static str {
    match code {
        1 => "general SOCKS server failure",
        2 => "connection not allowed by the proxy's rules",
        3 => "network unreachable",
        4 => "host unreachable",
        5 => "connection refused",
        6 => "TTL expired",
        7 => "command not supported",
        8 => "address type not supported",
        _ => "unassigned reply code",
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, Ipv6Addr, TcpListener};
    use std::thread;
    use std::time::Duration;

    use super::super::{Credentials, Kind};
    use super::*;

    fn proxy(port: u16, credentials: Option<(&str, &str)>) -> ResolvedProxy {
        ResolvedProxy {
            kind: Kind::Socks5 { resolve_at_proxy: false },
            host: "127.0.0.1".into(),
            port,
            credentials: credentials
                .map(|(user, password)| Credentials { user: user.into(), password: password.into() }),
            variable: None,
        }
    }

    /// A scripted proxy for one connection: checks what the client sends byte for byte and
    /// answers as told, then returns what else it read.
    struct Script {
        exchanges: Vec<(Vec<u8>, Vec<u8>)>,
        /// Closes the connection after the last answer instead of waiting for the client to.
        hang_up: bool,
    }

    fn script(exchanges: Vec<(Vec<u8>, Vec<u8>)>) -> Script {
        Script { exchanges, hang_up: false }
    }

    /// Serves `scripts` one connection each; returns the port and a handle yielding, per
    /// connection, whether every expectation held.
    fn serve(scripts: Vec<Script>) -> (u16, thread::JoinHandle<Vec<Result<(), String>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let handle = thread::spawn(move || {
            scripts
                .into_iter()
                .map(|script| {
                    let (mut stream, _) = listener.accept().unwrap();
                    stream.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                    for (expected, answer) in &script.exchanges {
                        let mut got = vec![0u8; expected.len()];
                        stream.read_exact(&mut got).map_err(|err| format!("reading {expected:?}: {err}"))?;
                        if got != *expected {
                            return Err(format!("expected {expected:?}, got {got:?}"));
                        }
                        stream.write_all(answer).unwrap();
                    }
                    if !script.hang_up {
                        // Linger until the client closes, so that it sees no early end of stream.
                        let _ = stream.read_to_end(&mut Vec::new());
                    }
                    Ok(())
                })
                .collect()
        });
        (port, handle)
    }

    fn exchange(expected: &[u8], answer: &[u8]) -> (Vec<u8>, Vec<u8>) {
        (expected.to_vec(), answer.to_vec())
    }

    fn dial(port: u16) -> TcpStream {
        TcpStream::connect(("127.0.0.1", port)).unwrap()
    }

    fn budget() -> DialBudget {
        DialBudget::start(Duration::from_secs(5))
    }

    #[test]
    fn a_session_reads_exactly_the_reply_for_every_bound_address_type() {
        let target = Destination::Ip(IpAddr::V4(Ipv4Addr::new(10, 1, 2, 3)));
        let request = [5, 1, 0, 1, 10, 1, 2, 3, 0x1f, 0x40];
        let bound_v4 = [5, 0, 0, 1, 1, 2, 3, 4, 0, 80];
        let mut bound_v6 = vec![5, 0, 0, 4];
        bound_v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        bound_v6.extend_from_slice(&[0, 80]);
        let mut bound_name = vec![5, 0, 0, 3, 10];
        bound_name.extend_from_slice(b"proxy.test");
        bound_name.extend_from_slice(&[0, 80]);
        for bound in [bound_v4.to_vec(), bound_v6, bound_name] {
            // The server's first bytes arrive together with the reply.
            let mut answer = bound.clone();
            answer.extend_from_slice(b"SERVER");
            let (port, handle) =
                serve(vec![script(vec![exchange(&[5, 1, 0], &[5, 0]), exchange(&request, &answer)])]);
            let mut tcp = dial(port);
            connect(&tcp, &proxy(port, None), &target, 8000, &budget()).unwrap();
            let mut first = [0u8; 6];
            tcp.read_exact(&mut first).unwrap();
            assert_eq!(&first, b"SERVER", "after a reply of {} bytes", bound.len());
            drop(tcp);
            assert_eq!(handle.join().unwrap(), vec![Ok(())]);
        }
    }

    #[test]
    fn credentials_are_offered_and_sent_and_names_and_ipv6_are_encoded() {
        let mut auth = vec![1, 5];
        auth.extend_from_slice(b"alice");
        auth.push(7);
        auth.extend_from_slice(b"hunter2");
        let mut by_name = vec![5, 1, 0, 3, 9];
        by_name.extend_from_slice(b"localhost");
        by_name.extend_from_slice(&[0x01, 0xbb]);
        let mut by_v6 = vec![5, 1, 0, 4];
        by_v6.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        by_v6.extend_from_slice(&[0x01, 0xbb]);
        let ok = [5, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let (port, handle) = serve(vec![
            script(vec![exchange(&[5, 2, 0, 2], &[5, 2]), exchange(&auth, &[1, 0]), exchange(&by_name, &ok)]),
            // A proxy that needs no authentication although credentials are set.
            script(vec![exchange(&[5, 2, 0, 2], &[5, 0]), exchange(&by_v6, &ok)]),
        ]);
        let with_credentials = proxy(port, Some(("alice", "hunter2")));
        let name = Destination::Name("localhost".into());
        connect(&dial(port), &with_credentials, &name, 443, &budget()).unwrap();
        let v6 = Destination::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST));
        connect(&dial(port), &with_credentials, &v6, 443, &budget()).unwrap();
        assert_eq!(handle.join().unwrap(), vec![Ok(()), Ok(())]);
    }

    /// The error of one session against a proxy that follows `script`.
    fn failure(credentials: Option<(&str, &str)>, script: Script) -> Failure {
        let (port, handle) = serve(vec![script]);
        let target = Destination::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let result = connect(&dial(port), &proxy(port, credentials), &target, 8000, &budget());
        handle.join().unwrap().pop().unwrap().unwrap();
        result.unwrap_err()
    }

    #[test]
    fn failures_say_which_proxy_refused_what_and_never_the_password() {
        let request = [5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x40];
        let with_credentials = Some(("alice", "hunter2"));
        let mut auth = vec![1, 5];
        auth.extend_from_slice(b"alice");
        auth.push(7);
        auth.extend_from_slice(b"hunter2");
        // Credentials, the proxy's side (what it expects, what it answers), the error's text, and
        // whether another address could do better.
        type Case = (Option<(&'static str, &'static str)>, Vec<(Vec<u8>, Vec<u8>)>, &'static str, bool);
        let cases: Vec<Case> = vec![
            (None, vec![exchange(&[5, 1, 0], &[5, 0xff])], "wants authentication; set a user name", false),
            (
                with_credentials,
                vec![exchange(&[5, 2, 0, 2], &[5, 0xff])],
                "accepts neither no authentication nor a user name and password",
                false,
            ),
            (None, vec![exchange(&[5, 1, 0], &[5, 2])], "chose authentication method 0x02", false),
            (
                None,
                vec![exchange(&[5, 1, 0], b"HT")],
                "does not answer as a SOCKS5 proxy (its first byte is 0x48",
                false,
            ),
            (
                with_credentials,
                vec![exchange(&[5, 2, 0, 2], &[5, 2]), exchange(&auth, &[1, 1])],
                "refused the user name and password (status 1)",
                false,
            ),
            (
                None,
                vec![exchange(&[5, 1, 0], &[5, 0]), exchange(&request, &[5, 2, 0, 1, 0, 0, 0, 0, 0, 0])],
                "could not connect to 127.0.0.1:8000: connection not allowed by the proxy's rules (SOCKS5 reply 2)",
                true,
            ),
            (
                None,
                vec![exchange(&[5, 1, 0], &[5, 0]), exchange(&request, &[5, 5])],
                "could not connect to 127.0.0.1:8000: connection refused (SOCKS5 reply 5)",
                true,
            ),
            (
                None,
                vec![exchange(&[5, 1, 0], &[5, 0]), exchange(&request, &[5, 7])],
                "command not supported (SOCKS5 reply 7)",
                false,
            ),
            (
                None,
                vec![exchange(&[5, 1, 0], &[5, 0]), exchange(&request, &[5, 0, 0, 9])],
                "malformed reply (address type 9)",
                false,
            ),
            (
                None,
                vec![exchange(&[5, 1, 0], &[5])],
                "connection closed while waiting for the SOCKS5 proxy",
                false,
            ),
        ];
        for (credentials, exchanges, needle, unreachable) in cases {
            let failure = failure(credentials, Script { exchanges, hang_up: true });
            let is_unreachable = matches!(failure, Failure::Unreachable(_));
            let text = failure.into_error().to_string();
            assert!(
                text.starts_with("the SOCKS5 proxy 127.0.0.1:") || text.starts_with("connection closed"),
                "{text}"
            );
            assert!(text.contains(needle), "{text:?} lacks {needle:?}");
            assert_eq!(is_unreachable, unreachable, "{text}");
            assert!(!text.contains("hunter2") && !text.contains("alice"), "{text}");
        }
    }

    #[test]
    fn a_silent_proxy_runs_out_of_the_budget_naming_the_step() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let tcp = dial(port);
        let (_held, _) = listener.accept().unwrap();
        let budget = DialBudget::start(Duration::from_millis(200));
        let target = Destination::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let error = connect(&tcp, &proxy(port, None), &target, 8000, &budget).unwrap_err().into_error();
        assert_eq!(
            error.to_string(),
            format!(
                "connect timed out after 200 ms waiting for the SOCKS5 proxy 127.0.0.1:{port} to answer the greeting"
            )
        );
    }

    #[test]
    fn each_address_is_tried_in_turn_while_the_proxy_cannot_reach_it() {
        let mut first = vec![5, 1, 0, 4];
        first.extend_from_slice(&Ipv6Addr::LOCALHOST.octets());
        first.extend_from_slice(&[0x1f, 0x40]);
        let second = [5, 1, 0, 1, 127, 0, 0, 1, 0x1f, 0x40];
        let ok = [5, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let (port, handle) = serve(vec![
            script(vec![exchange(&[5, 1, 0], &[5, 0]), exchange(&first, &[5, 4])]),
            script(vec![exchange(&[5, 1, 0], &[5, 0]), exchange(&second, &ok)]),
        ]);
        let destinations = [
            Destination::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)),
            Destination::Ip(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        ];
        let mut opened = 0;
        let tcp = connect_to_any(&destinations, 8000, &proxy(port, None), &budget(), || {
            opened += 1;
            Ok(dial(port))
        })
        .unwrap();
        drop(tcp);
        assert_eq!(opened, 2, "one session per address");
        assert_eq!(handle.join().unwrap(), vec![Ok(()), Ok(())]);

        // An authentication failure is not about the address: no second session.
        let (port, handle) = serve(vec![script(vec![exchange(&[5, 1, 0], &[5, 0xff])])]);
        let mut opened = 0;
        let error = connect_to_any(&destinations, 8000, &proxy(port, None), &budget(), || {
            opened += 1;
            Ok(dial(port))
        })
        .unwrap_err();
        assert!(error.to_string().contains("wants authentication"), "{error}");
        assert_eq!(opened, 1);
        handle.join().unwrap();

        // When no address works, the last refusal is the error.
        let (port, handle) = serve(vec![
            script(vec![exchange(&[5, 1, 0], &[5, 0]), exchange(&first, &[5, 4])]),
            script(vec![exchange(&[5, 1, 0], &[5, 0]), exchange(&second, &[5, 5])]),
        ]);
        let error = connect_to_any(&destinations, 8000, &proxy(port, None), &budget(), || Ok(dial(port)))
            .unwrap_err();
        assert!(
            error.to_string().contains("could not connect to 127.0.0.1:8000: connection refused"),
            "{error}"
        );
        handle.join().unwrap();
    }
}
