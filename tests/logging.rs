//! Logging goes through `log` with the crate's module paths as targets, and no token ever
//! appears in it. Alone in its binary: it installs the process's logger.

#[macro_use]
mod support;

use std::sync::Mutex;
use std::time::Duration;

use centrifuge_blocking::{ClientConfig, Protocol, TokenError};
use centrifuge_test_harness::{Centrifugo, Claims, HMAC_SECRET};
use support::events::client;

struct Capture;

static LINES: Mutex<Vec<(String, String)>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        LINES.lock().unwrap().push((record.target().to_string(), record.args().to_string()));
    }

    fn flush(&self) {}
}

static LOGGER: Capture = Capture;

#[test]
fn logs_name_their_module_and_never_contain_a_token() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let server = Centrifugo::shared();
    let mut tokens = Vec::new();
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        let token = Claims::connection("logged-user").expires_in(Duration::from_secs(2)).sign(HMAC_SECRET);
        let refreshed =
            Claims::connection("logged-user").expires_in(Duration::from_secs(60)).sign(HMAC_SECRET);
        tokens.push(token.clone());
        tokens.push(refreshed.clone());
        let getter = move || -> Result<String, TokenError> { Ok(refreshed.clone()) };
        let config = ClientConfig::default().protocol(protocol).token(token).token_getter(getter);
        let (client, events) = client(&server.ws_url(), config);
        client.connect().unwrap();
        events.connected();
        client.rpc("ping", Vec::new()).unwrap();
        // Let the 2 s token be refreshed through the getter.
        events.within(Duration::from_millis(2500));
        client.disconnect().unwrap();
        events.disconnected();
        client.close();
    }
    let lines = LINES.lock().unwrap();
    let ours: Vec<&(String, String)> =
        lines.iter().filter(|(target, _)| target.starts_with("centrifuge_blocking")).collect();
    assert!(ours.iter().any(|(_, text)| text.starts_with("connected: client id")), "{lines:#?}");
    assert!(ours.iter().any(|(_, text)| text.starts_with("disconnected: 0")), "{lines:#?}");
    assert!(
        ours.iter().any(|(target, _)| target.contains("::runtime")),
        "targets name the module: {lines:#?}"
    );
    for (target, text) in lines.iter() {
        for token in &tokens {
            assert!(!text.contains(token.as_str()), "a token leaked into the log of {target}: {text}");
            // Not even its signature part.
            let signature = token.rsplit('.').next().unwrap();
            assert!(!text.contains(signature), "a token signature leaked into the log of {target}: {text}");
        }
    }
}
