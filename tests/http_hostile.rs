//! The HTTP transports against what a broken server, proxy or captive portal sends: an endless
//! response head, broken chunk sizes, a stream cut mid-message, a redirect loop, a message
//! over `max_message_size`, an HTML login page. Each gives a clear error, never a panic, with
//! memory bounded; before the first message the client keeps retrying, after it a broken
//! stream is a protocol violation.

#[macro_use]
mod support;

use std::io::Write;
use std::time::Duration;

use centrifuge_blocking::{ClientConfig, ClientEvent, ClientState, Error, TransportEndpoint};
use centrifuge_test_harness::Centrifugo;
use support::events::{Events, client_on};
use support::http_fake::{HttpFake, chunk, chunked_head, connect_id, connect_reply};
use support::portal::Front;

fn retrying() -> ClientConfig {
    ClientConfig::default()
        .min_reconnect_delay(Duration::from_millis(20))
        .max_reconnect_delay(Duration::from_millis(100))
}

/// The first transport error the client reports, as text.
fn transport_error(events: &Events) -> String {
    match events.error() {
        Error::Transport(error) => error.to_string(),
        other => panic!("expected a transport error, got {other:?}"),
    }
}

#[test]
fn an_endless_response_head_is_refused() {
    let server = HttpFake::start(|index, _, stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n");
        let (line, times): (&[u8], usize) =
            if index % 2 == 0 { (&[b'a'; 1024], 64) } else { (b"X-Padding: a\r\n", 2000) };
        if index % 2 == 0 {
            // One header that never ends.
            let _ = stream.write_all(b"X-Padding: ");
        }
        for _ in 0..times {
            if stream.write_all(line).is_err() {
                return;
            }
        }
    });
    let (client, events) =
        client_on(TransportEndpoint::http_stream(server.url("/connection/http_stream")), retrying());
    client.connect().unwrap();
    let errors = [transport_error(&events), transport_error(&events)];
    assert!(
        errors.iter().any(|error| error.contains("response head is longer than 16384 bytes")),
        "{errors:?}"
    );
    assert!(errors.iter().any(|error| error.contains("more than 124 headers")), "{errors:?}");
    assert_eq!(client.state(), ClientState::Connecting, "it keeps trying");
    client.close();
}

#[test]
fn a_broken_chunk_size_before_the_first_message_is_retried() {
    let server = HttpFake::start(|_, _, stream| {
        let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n");
    });
    let (client, events) =
        client_on(TransportEndpoint::http_stream(server.url("/connection/http_stream")), retrying());
    client.connect().unwrap();
    let error = transport_error(&events);
    assert!(error.contains("invalid chunk size line \"zz\""), "{error}");
    assert_eq!(client.state(), ClientState::Connecting, "it keeps trying");
    client.close();
}

#[test]
fn a_broken_chunk_size_after_the_first_message_is_a_protocol_violation() {
    let server = HttpFake::start(|_, request, stream| {
        chunked_head(stream, "text/plain");
        chunk(stream, &connect_reply(connect_id(&request), "c"));
        let _ = stream.write_all(b"1x\r\n");
        let _ = stream.flush();
        std::thread::sleep(Duration::from_millis(300));
    });
    let (client, events) =
        client_on(TransportEndpoint::http_stream(server.url("/connection/http_stream")), retrying());
    client.connect().unwrap();
    events.connected();
    assert!(matches!(events.error(), Error::Protocol(what) if what.contains("invalid chunk size line")));
    assert_eq!(events.disconnected(), (2, "bad protocol".to_string()));
    client.close();
}

#[test]
fn a_stream_cut_in_the_middle_of_a_message_is_a_lost_connection() {
    let server = HttpFake::start(|index, request, stream| {
        chunked_head(stream, "text/plain");
        chunk(stream, &connect_reply(connect_id(&request), &format!("c{index}")));
        if index == 0 {
            chunk(stream, b"{\"push\":{\"channel\":");
            // The connection ends here: no rest of the message, no last chunk.
        } else {
            std::thread::sleep(Duration::from_millis(500));
        }
    });
    let (client, events) =
        client_on(TransportEndpoint::http_stream(server.url("/connection/http_stream")), retrying());
    client.connect().unwrap();
    assert_eq!(events.connected(), "c0");
    let error = transport_error(&events);
    assert!(error.contains("the stream ended before its end"), "{error}");
    assert_eq!(events.connecting(), (1, "transport closed".to_string()));
    assert_eq!(events.connected(), "c1", "reconnected");
    client.close();
}

#[test]
fn a_redirect_loop_is_reported_with_its_status_and_retried() {
    let server = HttpFake::start(|_, request, stream| {
        let response =
            format!("HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\n\r\n", request.target);
        let _ = stream.write_all(response.as_bytes());
    });
    let url = server.url("/connection/http_stream?token=secret");
    let (client, events) = client_on(TransportEndpoint::http_stream(url), retrying());
    client.connect().unwrap();
    for attempt in 0..3 {
        let error = transport_error(&events);
        assert!(
            error.contains("redirected (HTTP 302)") && error.contains("captive portal"),
            "{attempt}: {error}"
        );
        assert!(!error.contains("secret"), "the URL's query never shows: {error}");
    }
    assert_eq!(client.state(), ClientState::Connecting, "never followed, never given up");
    client.close();
}

#[test]
fn a_message_over_max_message_size_is_refused_while_it_arrives() {
    let server = HttpFake::start(|_, request, stream| {
        chunked_head(stream, "text/plain");
        chunk(stream, &connect_reply(connect_id(&request), "c"));
        // One message that never ends: the client must stop at its limit, not buffer forever.
        let block = vec![b'a'; 16 * 1024];
        for _ in 0..1024 {
            if stream.write_all(format!("{:x}\r\n", block.len()).as_bytes()).is_err()
                || stream.write_all(&block).is_err()
                || stream.write_all(b"\r\n").is_err()
            {
                return;
            }
        }
    });
    let config = retrying().max_message_size(64 * 1024);
    let (client, events) =
        client_on(TransportEndpoint::http_stream(server.url("/connection/http_stream")), config);
    client.connect().unwrap();
    events.connected();
    assert!(
        matches!(events.error(), Error::Protocol(what) if what.contains("exceeds max_message_size (65536 bytes)"))
    );
    assert_eq!(events.disconnected(), (2, "bad protocol".to_string()));
    client.close();
}

/// A portal answers the first attempts with its login page; once it lets the client through,
/// the client connects. For WebSocket and HTTP-streaming.
#[test]
fn a_captive_portal_is_reported_and_the_client_connects_once_it_lets_go() {
    let server = Centrifugo::shared();
    for (name, endpoint, expected) in [
        ("WebSocket", "/connection/websocket?note=secret", "WebSocket handshake refused with HTTP 200"),
        ("HTTP-streaming", "/connection/http_stream?note=secret", "answered with an HTML page (HTTP 200)"),
    ] {
        let portal = Front::captive_portal(([127, 0, 0, 1], server.port()).into(), 2);
        let endpoint = match name {
            "WebSocket" => {
                TransportEndpoint::websocket(format!("ws://127.0.0.1:{}{endpoint}", portal.port()))
            }
            _ => TransportEndpoint::http_stream(format!("http://127.0.0.1:{}{endpoint}", portal.port())),
        };
        let (client, events) = client_on(endpoint, retrying());
        client.connect().unwrap();
        for _ in 0..2 {
            let error = transport_error(&events);
            assert!(error.contains(expected), "{name}: {error}");
            assert!(!error.contains("secret"), "{name}: {error}");
        }
        events.connected();
        assert_eq!(portal.answered(), 2);
        assert!(client.rpc("ping", Vec::new()).is_ok(), "{name}");
        let late = events.drain();
        assert!(!late.iter().any(|event| matches!(event, ClientEvent::Disconnected(_))), "{name}: {late:?}");
        client.close();
    }
}
