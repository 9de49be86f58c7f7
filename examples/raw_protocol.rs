//! The wire codec against a locally started Centrifugo, with no client logic: the demo the
//! README's first command runs until the blocking `Client` replaces it.
//!
//! It starts Centrifugo v6 through the test harness (building it once from the Go module proxy
//! when no `centrifugo` binary is around), then, in JSON and in Protobuf: connects, subscribes
//! to a history channel, publishes through the server API, prints the pushes as they arrive,
//! and reads the channel history back.
//!
//! Run: `cargo run --example raw_protocol`

// The same raw connection the integration tests use; the demo needs only part of it.
#[allow(dead_code)]
#[path = "../tests/support/raw.rs"]
mod raw;

use centrifuge_blocking::unversioned::{Command, HistoryRequest, Protocol, RpcRequest, SubscribeRequest};
use centrifuge_test_harness::{Centrifugo, Claims, HMAC_SECRET};
use raw::RawConnection;

fn main() {
    println!("starting a local Centrifugo ...");
    let server = Centrifugo::start();
    println!(
        "Centrifugo {} on {}",
        server
            .api()
            .info()
            .map_or("?".into(), |info| info["nodes"][0]["version"].as_str().unwrap_or("?").to_string()),
        server.ws_url()
    );

    for format in [Protocol::Json, Protocol::Protobuf] {
        println!("\n== {format:?} ==");
        let token = Claims::connection("demo-user").sign(HMAC_SECRET);
        let (mut connection, connected) = RawConnection::connect(&server.ws_url(), format, &token);
        println!(
            "connected: client id {}, server {}, ping every {} s",
            connected.client, connected.version, connected.ping
        );

        let channel = format!("hist:demo-{format:?}").to_lowercase();
        let reply = connection.request(Command {
            subscribe: Some(Box::new(SubscribeRequest { channel: channel.clone(), ..Default::default() })),
            ..Default::default()
        });
        let subscribed = reply.subscribe.expect("subscribe succeeds");
        println!("subscribed to {channel}: epoch {}, offset {}", subscribed.epoch, subscribed.offset);

        for n in 1..=3 {
            server.api().publish(&channel, &format!(r#"{{"message": "hello #{n}"}}"#)).expect("publish");
            let push = connection.next_push();
            let publication = push.r#pub.expect("a publication");
            println!(
                "push: offset {} data {}",
                publication.offset,
                String::from_utf8_lossy(&publication.data)
            );
        }

        let reply = connection.request(Command {
            history: Some(Box::new(HistoryRequest { channel, limit: -1, ..Default::default() })),
            ..Default::default()
        });
        let history = reply.history.expect("history succeeds");
        println!("history: {} publications up to offset {}", history.publications.len(), history.offset);

        let reply = connection.request(Command {
            rpc: Some(RpcRequest { method: "echo".into(), data: br#"{"ping":"pong"}"#.to_vec().into() }),
            ..Default::default()
        });
        let echoed = reply.rpc.expect("the RPC backend echoes");
        println!("rpc echo: {}", String::from_utf8_lossy(&echoed.data));
    }
    println!("\ndone; the server stops now");
}
