//! Running one driver: its `READY` lines, its `RESULT`, and a time limit.

use std::io::{BufRead, BufReader, Read};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::participants::Participant;

/// How long a driver may take to exit after its result.
const EXIT_GRACE: Duration = Duration::from_secs(10);

/// What a driver printed, line by line.
enum Line {
    Ready,
    Result(Value),
    Other(String),
}

/// Runs `participant` on `scenario`; `on_ready` runs on each `READY` line (e.g. to publish
/// into the channel the driver just subscribed to). Fails with the driver's stderr when it
/// exits without a result or takes longer than `limit`.
pub fn run_driver(
    participant: &Participant,
    scenario: &str,
    args: &[String],
    limit: Duration,
    mut on_ready: impl FnMut() -> Result<(), String>,
) -> Result<Value, String> {
    let mut child = participant
        .command(scenario, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|err| format!("cannot start the driver: {err}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut stderr = child.stderr.take().expect("stderr is piped");
    let (lines, incoming) = crossbeam_channel::unbounded();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let parsed = if line == "READY" {
                Line::Ready
            } else if let Some(json) = line.strip_prefix("RESULT ") {
                serde_json::from_str(json).map_or_else(|_| Line::Other(line.clone()), Line::Result)
            } else {
                Line::Other(line)
            };
            if lines.send(parsed).is_err() {
                break;
            }
        }
    });
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let deadline = Instant::now() + limit;
    let mut outcome = Err("the driver exited without a RESULT line".to_string());
    loop {
        match incoming.recv_deadline(deadline) {
            Ok(Line::Ready) => {
                if let Err(why) = on_ready() {
                    outcome = Err(why);
                    break;
                }
            }
            Ok(Line::Result(value)) => {
                outcome = Ok(value);
                break;
            }
            Ok(Line::Other(line)) => eprintln!("  {}: {line}", participant.name),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                outcome = Err(format!("no result within {limit:?}"));
                break;
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
        }
    }
    if outcome.is_err() {
        let _ = child.kill();
    }
    // A driver closes its clients after the result; it gets a few seconds for that.
    let exit_deadline = Instant::now() + EXIT_GRACE;
    let status = loop {
        match child.try_wait().map_err(|err| err.to_string())? {
            Some(status) => break status,
            None if Instant::now() > exit_deadline => {
                let _ = child.kill();
            }
            None => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let stderr = errors.join().unwrap_or_default();
    match outcome {
        Ok(value) => Ok(value),
        Err(why) => {
            let tail: Vec<&str> = stderr.lines().rev().take(10).collect();
            Err(format!(
                "{why} ({status}); stderr: {}",
                tail.into_iter().rev().collect::<Vec<_>>().join(" | ")
            ))
        }
    }
}
