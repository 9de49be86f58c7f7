//! Resuming a stream across process restarts: save the subscription's position at exit,
//! subscribe with `since` at start, and receive exactly what was published in between.
//!
//! `cargo run --example recovery` plays both lives of the process against one local
//! Centrifugo: the first saves its position to a file and closes; messages are published while
//! it is gone; the second reads the file and recovers them, in order.

use std::path::PathBuf;
use std::time::Duration;

use centrifuge_blocking::{
    Client, ClientConfig, StreamPosition, SubscriptionConfig, SubscriptionEvent, listener,
};
use centrifuge_test_harness::Centrifugo;

const CHANNEL: &str = "hist:orders";

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Centrifugo::start();
    let state_file =
        std::env::temp_dir().join(format!("centrifuge-recovery-example-{}.position", std::process::id()));

    println!("== first run ==");
    run(&server.ws_url(), &state_file)?;

    for n in 1..=3 {
        server.api().publish(CHANNEL, &format!(r#"{{"order":{n}}}"#))?;
        println!("published order {n} while the process was not running");
    }

    println!("\n== second run ==");
    run(&server.ws_url(), &state_file)?;
    let _ = std::fs::remove_file(&state_file);
    Ok(())
}

/// One life of the process: resume from the saved position (if any), read a moment, save.
fn run(url: &str, state_file: &PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let client = Client::new(url, ClientConfig::default(), listener::NoopListener)?;
    let mut config = SubscriptionConfig::default().recoverable(true);
    if let Some(saved) = load(state_file) {
        println!("resuming from offset {} of epoch {}", saved.offset, saved.epoch);
        config = config.since(saved);
    }
    let (events, receiver) = listener::subscription_channel();
    let subscription = client.new_subscription(CHANNEL, config, events)?;
    client.connect()?;
    subscription.subscribe()?;

    let mut position = None;
    while let Ok(event) = receiver.recv_timeout(Duration::from_millis(500)) {
        match event {
            SubscriptionEvent::Subscribed(subscribed) => {
                println!(
                    "subscribed: was_recovering={} recovered={}",
                    subscribed.was_recovering(),
                    subscribed.recovered()
                );
                position = subscribed.position().cloned();
            }
            SubscriptionEvent::Publication(publication) => {
                println!("received {}", String::from_utf8_lossy(publication.data()));
                if let Some(position) = position.as_mut() {
                    position.offset = publication.publication().offset();
                }
            }
            _ => {}
        }
    }
    if let Some(position) = position {
        std::fs::write(state_file, format!("{} {}", position.offset, position.epoch))?;
        println!("saved position {} {}", position.offset, position.epoch);
    }
    client.close();
    Ok(())
}

fn load(state_file: &PathBuf) -> Option<StreamPosition> {
    let text = std::fs::read_to_string(state_file).ok()?;
    let (offset, epoch) = text.trim().split_once(' ')?;
    Some(StreamPosition::new(offset.parse().ok()?, epoch))
}
