//! Logging goes through `log` with the crate's module paths as targets, and no token (connection
//! or subscription, static or refreshed) nor proxy password (SOCKS5 or HTTP, accepted or
//! refused) ever appears in it or in the `Debug` output of configs, handles, events and errors.
//! Alone in its binary: it installs the process's logger.

#[macro_use]
mod support;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use centrifuge_blocking::{
    ClientConfig, HttpProxy, Protocol, Proxy, Socks5Proxy, SubscriptionConfig, TokenError,
};
use centrifuge_test_harness::{Centrifugo, Claims, HMAC_SECRET, config};
use support::events::{client, subscription};
use support::proxy::ConnectProxy;
use support::socks::{SocksMode, SocksProxy};

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
fn logs_name_their_module_and_never_contain_a_token_or_a_proxy_password() {
    log::set_logger(&LOGGER).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    let server = Centrifugo::shared();
    // Every token handed to the client, and the Debug text of everything a user may print.
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let mut debug_texts = Vec::new();
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        let user = format!("logged-{protocol:?}");
        let token = Claims::connection(&user).expires_in(Duration::from_secs(2)).sign(HMAC_SECRET);
        tokens.lock().unwrap().push(token.clone());
        let connection_refreshes = Arc::new(AtomicUsize::new(0));
        let getter = {
            let (user, tokens, refreshes) =
                (user.clone(), Arc::clone(&tokens), Arc::clone(&connection_refreshes));
            move || -> Result<String, TokenError> {
                let fresh = Claims::connection(&user).expires_in(Duration::from_secs(60)).sign(HMAC_SECRET);
                tokens.lock().unwrap().push(fresh.clone());
                refreshes.fetch_add(1, Ordering::SeqCst);
                Ok(fresh)
            }
        };
        let config = ClientConfig::default().protocol(protocol).token(token).token_getter(getter);
        debug_texts.push(format!("{config:?}"));
        let (client, events) = client(&server.ws_url(), config);

        // A token-only channel: a static 2 s subscription token, then refreshed ones.
        let channel = format!("{}:logged-{protocol:?}", config::TOKEN_ONLY).to_lowercase();
        let first_sub_token =
            Claims::subscription(&user, &channel).expires_in(Duration::from_secs(2)).sign(HMAC_SECRET);
        tokens.lock().unwrap().push(first_sub_token.clone());
        let subscription_refreshes = Arc::new(AtomicUsize::new(0));
        let sub_getter = {
            let (user, tokens, refreshes) =
                (user.clone(), Arc::clone(&tokens), Arc::clone(&subscription_refreshes));
            move |channel: &str| -> Result<String, TokenError> {
                let fresh = Claims::subscription(&user, channel)
                    .expires_in(Duration::from_secs(60))
                    .sign(HMAC_SECRET);
                tokens.lock().unwrap().push(fresh.clone());
                refreshes.fetch_add(1, Ordering::SeqCst);
                Ok(fresh)
            }
        };
        let sub_config = SubscriptionConfig::default().token(first_sub_token).token_getter(sub_getter);
        debug_texts.push(format!("{sub_config:?}"));
        let (sub, sub_events) = subscription(&client, &channel, sub_config);
        sub.subscribe().unwrap();
        client.connect().unwrap();
        debug_texts.push(format!("{:?}", events.next()));
        debug_texts.push(format!("{:?}", events.next()));
        debug_texts.push(format!("{:?}", sub_events.subscribed()));
        client.rpc("ping", Vec::new()).unwrap();
        // Both 2 s tokens get refreshed through their getters.
        let mut seen = events.within(Duration::from_millis(2500));
        seen.extend(events.drain());
        debug_texts.extend(seen.iter().map(|event| format!("{event:?}")));
        debug_texts.extend(sub_events.drain().iter().map(|event| format!("{event:?}")));
        assert!(connection_refreshes.load(Ordering::SeqCst) >= 1, "the connection token was refreshed");
        assert!(subscription_refreshes.load(Ordering::SeqCst) >= 1, "the subscription token was refreshed");
        debug_texts.push(format!("{client:?} {sub:?}"));
        client.disconnect().unwrap();
        debug_texts.push(format!("{:?}", events.disconnected()));
        client.close();
        debug_texts.extend(sub_events.drain().iter().map(|event| format!("{event:?}")));
    }

    // Proxy passwords, right and wrong, of both kinds of proxy: the client connects through
    // the right ones (logging the proxy it dials through) and reports the wrong ones.
    let proxy_secrets = ["socks-secret-pw", "basic-secret-pw", "wrong-secret-pw"];
    let socks = SocksProxy::start(SocksMode {
        credentials: Some(("proxy-user", "socks-secret-pw")),
        ..SocksMode::default()
    });
    // "proxy-user:basic-secret-pw" in base64.
    let http = ConnectProxy::start(Some("cHJveHktdXNlcjpiYXNpYy1zZWNyZXQtcHc="));
    let socks_with = |password: &str| Socks5Proxy::new(socks.address()).credentials("proxy-user", password);
    let http_with = |password: &str| HttpProxy::new(http.address()).basic_auth("proxy-user", password);
    for (proxy, works) in [
        (Proxy::from(socks_with("socks-secret-pw")), true),
        (Proxy::from(http_with("basic-secret-pw")), true),
        (Proxy::from(socks_with("wrong-secret-pw")), false),
        (Proxy::from(http_with("wrong-secret-pw")), false),
    ] {
        let config = ClientConfig::default().proxy(proxy).max_reconnect_delay(Duration::from_millis(500));
        debug_texts.push(format!("{config:?}"));
        let (client, events) = client(&server.ws_url(), config);
        client.connect().unwrap();
        if works {
            events.connected();
        } else {
            let error = events.error();
            debug_texts.push(format!("{error:?} {error}"));
        }
        client.close();
    }
    let lines = LINES.lock().unwrap();
    let logged = lines.iter().map(|(target, text)| (target.as_str(), text));
    for (target, text) in logged.chain(debug_texts.iter().map(|text| ("Debug output", text))) {
        for secret in proxy_secrets {
            assert!(!text.contains(secret), "a proxy password leaked into {target}: {text}");
        }
    }
    for kind in ["SOCKS5", "HTTP"] {
        let through = format!("through the {kind} proxy 127.0.0.1:");
        assert!(lines.iter().any(|(_, text)| text.contains(&through)), "{lines:#?}");
    }
    assert!(lines.iter().any(|(_, text)| text.contains("refused the user name and password")), "{lines:#?}");
    let ours: Vec<&(String, String)> =
        lines.iter().filter(|(target, _)| target.starts_with("centrifuge_blocking")).collect();
    assert!(ours.iter().any(|(_, text)| text.starts_with("connected: client id")), "{lines:#?}");
    assert!(ours.iter().any(|(_, text)| text.starts_with("disconnected: 0")), "{lines:#?}");
    assert!(
        ours.iter().any(|(target, _)| target.contains("::runtime")),
        "targets name the module: {lines:#?}"
    );
    let tokens = tokens.lock().unwrap();
    assert!(tokens.len() >= 6, "static and refreshed tokens of both kinds: {}", tokens.len());
    let debug = debug_texts.iter().map(|text| ("Debug output".to_string(), text.clone()));
    for (target, text) in lines.iter().cloned().chain(debug) {
        for token in tokens.iter() {
            // Not the token, and not even its signature part.
            let signature = token.rsplit('.').next().unwrap();
            assert!(!text.contains(signature), "a token leaked into {target}: {text}");
        }
    }
    assert!(debug_texts.iter().any(|text| text.contains("token: \"<redacted>\"")), "{debug_texts:#?}");
}
