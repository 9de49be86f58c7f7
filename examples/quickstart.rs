//! The blocking client in a few lines: connect, RPC, publish, history, presence, close.
//!
//! Run: `cargo run --example quickstart`. It starts a local Centrifugo v6 through the project's
//! test harness (building it once from the Go module proxy when no `centrifugo` binary is
//! around) and talks to it; everything after "the client" is what an application writes.

use std::time::Duration;

use centrifuge_blocking::{Client, ClientConfig, ClientEvent, HistoryOptions, Protocol};
use centrifuge_test_harness::{Centrifugo, Claims, HMAC_SECRET};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("starting a local Centrifugo ...");
    let server = Centrifugo::start();
    // A connection token your backend would issue (HS256, user "42").
    let token = Claims::connection("42").sign(HMAC_SECRET);

    // --- the client -------------------------------------------------------------------------
    for protocol in [Protocol::Json, Protocol::Protobuf] {
        println!("\n== {protocol:?} ==");
        let config = ClientConfig::default().token(token.clone()).protocol(protocol);
        let client = Client::new(server.ws_url(), config, |_: &Client, event: ClientEvent| match event {
            ClientEvent::Connecting(e) => println!("event: connecting ({} {})", e.code(), e.reason()),
            ClientEvent::Connected(e) => {
                println!("event: connected as {} to Centrifugo {}", e.client_id(), e.version())
            }
            ClientEvent::Disconnected(e) => println!("event: disconnected ({} {})", e.code(), e.reason()),
            ClientEvent::Error(e) => println!("event: error: {}", e.error()),
            other => println!("event: {other:?}"),
        })?;

        client.connect()?;
        client.ready(Duration::from_secs(10))?;

        // RPC: "ping" is answered by Centrifugo; other methods go to its RPC proxy (here the
        // harness's echo backend).
        client.rpc("ping", Vec::new())?;
        let answer = client.rpc("echo", r#"{"question":"6x7"}"#)?;
        println!("rpc echo: {}", String::from_utf8_lossy(&answer));

        // Publish into a channel with history, then read the history back.
        let channel = format!("hist:quickstart-{protocol:?}").to_lowercase();
        for n in 1..=3 {
            client.publish(&channel, format!(r#"{{"n":{n}}}"#))?;
        }
        let history = client.history(&channel, HistoryOptions::default().limit(10))?;
        for publication in history.publications() {
            println!(
                "history: offset {} data {}",
                publication.offset(),
                String::from_utf8_lossy(publication.data())
            );
        }

        // Presence of the user's personal channel (a server-side subscription).
        let stats = client.presence_stats("personal:#42")?;
        println!(
            "presence stats of personal:#42: {} client(s), {} user(s)",
            stats.num_clients, stats.num_users
        );

        client.close();
    }
    Ok(())
}
