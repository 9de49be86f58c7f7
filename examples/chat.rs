//! A terminal chat: type a line to send it; joins, leaves and messages of others appear as they
//! happen, and the last messages of the room are shown on start.
//!
//! ```sh
//! cargo run --example chat -- alice                  # starts a local Centrifugo, prints its URL
//! cargo run --example chat -- bob ws://127.0.0.1:PORT/connection/websocket   # joins it
//! ```
//!
//! `/who` lists who is in the room, `/quit` (or end of input) leaves.

use std::io::BufRead;
use std::sync::Arc;

use centrifuge_blocking::codes::ConnectingCode;
use centrifuge_blocking::{
    Client, ClientConfig, ClientEvent, HistoryOptions, Subscription, SubscriptionConfig, SubscriptionEvent,
};
use centrifuge_test_harness::{Centrifugo, Claims, HMAC_SECRET};

const ROOM: &str = "chat:lobby";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let name = args.next().unwrap_or_else(|| "guest".to_string());
    // The first participant runs the server (kept alive until it leaves).
    let (url, _server) = match args.next() {
        Some(url) => (url, None),
        None => {
            let server = Arc::new(Centrifugo::start());
            println!(
                "server: {}  (others join with: cargo run --example chat -- <name> {})",
                server.ws_url(),
                server.ws_url()
            );
            (server.ws_url(), Some(server))
        }
    };
    // Tokens for the harness's server; your backend would issue them.
    let token = Claims::connection(&name).info(serde_json::json!({ "name": name })).sign(HMAC_SECRET);

    let client = Client::new(
        &url,
        ClientConfig::default().token(token),
        |_: &Client, event: ClientEvent| match event {
            ClientEvent::Connecting(e) if e.code() != ConnectingCode::ConnectCalled.code() => {
                println!("* reconnecting ({})", e.reason())
            }
            ClientEvent::Disconnected(e) => println!("* disconnected: {}", e.reason()),
            _ => {}
        },
    )?;
    let me = name.clone();
    let room = client.new_subscription(
        ROOM,
        SubscriptionConfig::default(),
        move |_: &Subscription, event: SubscriptionEvent| match event {
            SubscriptionEvent::Publication(p) => {
                let from = p.publication().info().map(|info| info.user().to_string()).unwrap_or_default();
                if from != me {
                    println!("{from}: {}", text_of(p.data()));
                }
            }
            SubscriptionEvent::Join(j) => println!("* {} joined", j.info().user()),
            SubscriptionEvent::Leave(l) => println!("* {} left", l.info().user()),
            SubscriptionEvent::Subscribed(s) if s.was_recovering() && !s.recovered() => {
                println!("* some messages were missed while offline")
            }
            _ => {}
        },
    )?;
    client.connect()?;
    room.subscribe()?;

    for publication in room.history(HistoryOptions::default().limit(10))?.publications() {
        let from = publication.info().map(|info| info.user().to_string()).unwrap_or_default();
        println!("[history] {from}: {}", text_of(publication.data()));
    }
    println!("* you are {name} in {ROOM}; type to talk, /who, /quit");

    for line in std::io::stdin().lock().lines() {
        let line = line?;
        match line.trim() {
            "" => {}
            "/quit" => break,
            "/who" => {
                let presence = room.presence()?;
                let users: Vec<&str> = presence.clients().values().map(|info| info.user()).collect();
                println!("* here: {}", users.join(", "));
            }
            text => room.publish(serde_json::json!({ "text": text }).to_string())?,
        }
    }
    client.close();
    Ok(())
}

fn text_of(data: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(data)
        .ok()
        .and_then(|value| value["text"].as_str().map(str::to_string))
        .unwrap_or_else(|| String::from_utf8_lossy(data).into_owned())
}
