//! Proxies from the environment, end to end: `HTTP_PROXY`/`http_proxy`, `HTTPS_PROXY`,
//! `ALL_PROXY` with `http://`, `socks5://` and `socks5h://` and credentials in the URL,
//! `NO_PROXY`, the CGI guard, an unsupported scheme, and `Proxy::None` or an explicit proxy
//! overriding the environment; in front of the real Centrifugo, over every transport. (The
//! rules themselves are tested as a table in `transport::proxy::env`.)
//!
//! The environment is the process's, and changing it (`std::env::set_var`) is `unsafe` in
//! edition 2024. So this binary's one test runs each scenario in a child process of itself,
//! with the scenario's variables set on the child's command and every proxy variable of the
//! parent removed: the parent's environment never changes, and nothing needs unsetting. The
//! proxies and the server run in the parent, which checks what the proxies saw.

#[macro_use]
mod support;

use std::process::Command;

use centrifuge_blocking::{ClientConfig, Error, Proxy, Socks5Proxy};
use centrifuge_test_harness::Centrifugo;
use support::proxy::ConnectProxy;
use support::socks::{SocksMode, SocksProxy};
use support::transports::{self, Transport};

/// Tells a child which scenario to run ([`Child::name`]), against which endpoint, over which
/// transport, and the scenario's details.
const SCENARIO: &str = "CENTRIFUGE_TEST_ENV_PROXY_SCENARIO";
const URL: &str = "CENTRIFUGE_TEST_ENV_PROXY_URL";
const TRANSPORT: &str = "CENTRIFUGE_TEST_ENV_PROXY_TRANSPORT";
const EXPLICIT: &str = "CENTRIFUGE_TEST_ENV_PROXY_EXPLICIT";
const NEEDLE: &str = "CENTRIFUGE_TEST_ENV_PROXY_NEEDLE";
const SECRET: &str = "CENTRIFUGE_TEST_ENV_PROXY_SECRET";
/// A CA to trust, for a `wss://` server.
const CA: &str = "CENTRIFUGE_TEST_ENV_PROXY_CA";

/// Every variable the client reads; removed from each child's environment before the
/// scenario's are set.
const PROXY_VARIABLES: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
    "NO_PROXY",
    "no_proxy",
    "REQUEST_METHOD",
];

/// What a child does with a client for the endpoint, the environment set.
#[derive(Clone, Copy, Debug)]
enum Child<'a> {
    /// Connects with the default configuration and makes a call.
    Connects,
    /// Connects with `Proxy::None` and makes a call.
    ConnectsWithoutProxy,
    /// Connects through an explicit SOCKS5 proxy at this address, and makes a call.
    ConnectsThroughSocks(&'a str),
    /// Fails to connect; the first error must contain `needle` and not `secret`.
    Fails { needle: &'a str, secret: &'a str },
}

impl Child<'_> {
    /// The child's environment: the scenario and its details.
    fn vars(&self) -> Vec<(&'static str, &str)> {
        match *self {
            Child::Connects => vec![(SCENARIO, "connects")],
            Child::ConnectsWithoutProxy => vec![(SCENARIO, "connects-without-proxy")],
            Child::ConnectsThroughSocks(address) => {
                vec![(SCENARIO, "connects-through-socks"), (EXPLICIT, address)]
            }
            Child::Fails { needle, secret } => vec![(SCENARIO, "fails"), (NEEDLE, needle), (SECRET, secret)],
        }
    }
}

#[test]
fn proxies_come_from_the_environment() {
    if let Ok(scenario) = std::env::var(SCENARIO) {
        return child(&scenario);
    }
    let server = Centrifugo::shared();
    let tls_server = Centrifugo::start_tls();
    let ca = (CA, tls_server.ca_pem().unwrap().to_string());
    // "user:secret" in base64.
    let connect = ConnectProxy::start(Some("dXNlcjpzZWNyZXQ="));
    let socks = SocksProxy::start(SocksMode { credentials: Some(("user", "p@ss")), ..SocksMode::default() });
    let (http, socks_url) = (connect.address(), socks.address());
    let port = server.port();
    for transport in transports::ALL {
        let run = |child: Child, host: &str, vars: &[(&str, String)]| {
            run_child(transport, child, &(transport.url)(&server, host), vars);
        };
        let seen = || (connect.seen().len(), socks.sessions().len());
        let last_socks = || socks.sessions().pop().expect("a SOCKS5 session");

        // HTTP_PROXY (then http_proxy) for ws://, with credentials in the URL.
        let before = seen();
        run(Child::Connects, "127.0.0.1", &[("HTTP_PROXY", format!("http://user:secret@{http}"))]);
        run(Child::Connects, "127.0.0.1", &[("http_proxy", format!("user:secret@{http}"))]);
        assert!(seen().0 >= before.0 + 2 && seen().1 == before.1, "{}: CONNECTs", transport.name);
        assert!(connect.seen().last().unwrap().starts_with(&format!("CONNECT 127.0.0.1:{port} ")));

        // HTTPS_PROXY is for wss:// only: ws:// goes direct, and the other way round.
        let before = seen();
        run(Child::Connects, "127.0.0.1", &[("HTTPS_PROXY", format!("http://user:secret@{http}"))]);
        assert_eq!(seen(), before, "{}: HTTPS_PROXY is not for ws://", transport.name);
        let secure = (transport.url)(&tls_server, "127.0.0.1");
        assert!(secure.starts_with("wss://") || secure.starts_with("https://"), "{secure}");
        run_child(
            transport,
            Child::Connects,
            &secure,
            &[("HTTP_PROXY", format!("user:secret@{http}")), ca.clone()],
        );
        assert_eq!(seen(), before, "{}: HTTP_PROXY is not for wss://", transport.name);
        run_child(
            transport,
            Child::Connects,
            &secure,
            &[("HTTPS_PROXY", format!("user:secret@{http}")), ca.clone()],
        );
        assert!(seen().0 > before.0 && seen().1 == before.1, "{}: HTTPS_PROXY is for wss://", transport.name);
        let tunnel = format!("CONNECT 127.0.0.1:{} ", tls_server.port());
        assert!(connect.seen().last().unwrap().starts_with(&tunnel), "{:?}", connect.seen());

        // ALL_PROXY with socks5h: the proxy resolves `localhost`; percent-decoded password.
        let before = seen();
        run(Child::Connects, "localhost", &[("ALL_PROXY", format!("socks5h://user:p%40ss@{socks_url}"))]);
        assert!(seen().1 > before.1);
        let session = last_socks();
        assert_eq!(session.credentials, Some(("user".into(), "p@ss".into())));
        assert_eq!((session.address_type, session.destination), (Some(3), Some(format!("localhost:{port}"))));

        // socks5: the client resolves `localhost` and asks for addresses.
        run(Child::Connects, "localhost", &[("all_proxy", format!("socks5://user:p%40ss@{socks_url}"))]);
        assert!(matches!(last_socks().address_type, Some(1 | 4)), "{:?}", last_socks());

        // NO_PROXY: by address, by name, by address and port; and not for another port.
        let before = seen();
        let proxy = ("HTTP_PROXY", format!("http://user:secret@{http}"));
        run(Child::Connects, "127.0.0.1", &[proxy.clone(), ("NO_PROXY", "example.com, 127.0.0.1".into())]);
        run(Child::Connects, "localhost", &[proxy.clone(), ("no_proxy", ".LOCALHOST".into())]);
        run(Child::Connects, "127.0.0.1", &[proxy.clone(), ("NO_PROXY", format!("127.0.0.1:{port}"))]);
        run(Child::Connects, "127.0.0.1", &[proxy.clone(), ("NO_PROXY", "127.0.0.0/8".into())]);
        assert_eq!(seen(), before, "{}: NO_PROXY bypasses the proxy", transport.name);
        let other_port = if port == 1 { 2 } else { port - 1 };
        run(Child::Connects, "127.0.0.1", &[proxy.clone(), ("NO_PROXY", format!("127.0.0.1:{other_port}"))]);
        assert!(
            seen().0 > before.0 && seen().1 == before.1,
            "{}: another port's entry does not",
            transport.name
        );

        // A CGI script ignores HTTP_PROXY ("httpoxy").
        let before = seen();
        run(Child::Connects, "127.0.0.1", &[proxy.clone(), ("REQUEST_METHOD", "GET".into())]);
        assert_eq!(seen(), before, "{}: HTTP_PROXY under CGI", transport.name);

        // Proxy::None and an explicit proxy override the environment.
        let before = seen();
        run(Child::ConnectsWithoutProxy, "127.0.0.1", std::slice::from_ref(&proxy));
        assert_eq!(seen(), before, "{}: Proxy::None", transport.name);
        let explicit = SocksProxy::start(SocksMode::default());
        run(Child::ConnectsThroughSocks(&explicit.address()), "127.0.0.1", std::slice::from_ref(&proxy));
        assert_eq!(seen(), before, "{}: explicit proxy, not the environment's", transport.name);
        assert!(!explicit.sessions().is_empty(), "{}: the explicit proxy is used", transport.name);

        // Unusable or refused: an error naming the variable or the proxy, never the password.
        let before = seen();
        let unsupported = Child::Fails {
            needle: "the proxy in ALL_PROXY cannot be used: socks4:// is not supported",
            secret: "secret",
        };
        run(unsupported, "127.0.0.1", &[("ALL_PROXY", format!("socks4://user:secret@{socks_url}"))]);
        assert_eq!(seen(), before, "{}: nothing dialed", transport.name);
        let refused = Child::Fails { needle: "(from HTTP_PROXY) refused the tunnel", secret: "hunter2" };
        run(refused, "127.0.0.1", &[("HTTP_PROXY", format!("http://user:hunter2@{http}"))]);
        let refused = Child::Fails { needle: "(from ALL_PROXY) refused the user name", secret: "hunter2" };
        run(refused, "127.0.0.1", &[("ALL_PROXY", format!("socks5://user:hunter2@{socks_url}"))]);
    }
}

/// Runs `child` in a child process of this test with `vars` as its only proxy variables.
fn run_child(transport: &Transport, child: Child, url: &str, vars: &[(&str, String)]) {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", "proxies_come_from_the_environment", "--nocapture", "--test-threads=1"]);
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    command.envs(vars.iter().map(|(name, value)| (name, value)));
    command.envs(child.vars()).env(URL, url).env(TRANSPORT, transport.name);
    let output = command.output().expect("run the child test");
    assert!(
        output.status.success(),
        "{} {child:?} with {vars:?} failed:\n{}\n{}",
        transport.name,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// The child's side: one client, in the environment the parent set.
fn child(scenario: &str) {
    let var = |name: &str| std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set"));
    let name = var(TRANSPORT);
    let transport = transports::ALL.iter().find(|transport| transport.name == name).unwrap();
    let mut config = ClientConfig::default();
    if let Ok(ca) = std::env::var(CA) {
        config = config.add_root_certificate_pem(ca);
    }
    let config = match scenario {
        "connects" | "fails" => config,
        "connects-without-proxy" => config.proxy(Proxy::None),
        "connects-through-socks" => config.proxy(Socks5Proxy::new(var(EXPLICIT))),
        other => panic!("unknown scenario {other:?}"),
    };
    let (client, events) = (transport.client)(&var(URL), config);
    client.connect().unwrap();
    if scenario == "fails" {
        let (needle, secret) = (var(NEEDLE), var(SECRET));
        match events.error() {
            Error::Transport(error) => {
                let text = error.to_string();
                assert!(text.contains(&needle), "{text:?} lacks {needle:?}");
                assert!(!text.contains(&secret), "the password shows: {text}");
            }
            other => panic!("expected a transport error, got {other:?}"),
        }
    } else {
        events.connected();
        assert!(client.rpc("ping", Vec::new()).is_ok());
    }
    client.close();
}
