//! The driver side of the contract in `tests/peers/README.md`: `key=value` arguments, the
//! process's own CPU, wake-ups, memory and threads, and the `RESULT` line.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use centrifuge_blocking::Protocol;
use nix::sys::resource::{UsageWho, getrusage};

/// The scenario and its `key=value` arguments.
pub struct Args {
    pub scenario: String,
    values: HashMap<String, String>,
}

impl Args {
    /// Reads the process's arguments; exits with a message when they are malformed.
    pub fn from_env() -> Args {
        let mut args = std::env::args().skip(1);
        let scenario = args.next().unwrap_or_else(|| fail("usage: <driver> <scenario> key=value ..."));
        let values = args
            .map(|arg| match arg.split_once('=') {
                Some((key, value)) => (key.to_string(), value.to_string()),
                None => fail(&format!("argument {arg:?} is not key=value")),
            })
            .collect();
        Args { scenario, values }
    }

    /// A required string argument.
    pub fn text(&self, key: &str) -> &str {
        self.values.get(key).map(String::as_str).unwrap_or_else(|| fail(&format!("missing argument {key}=")))
    }

    /// A required number argument.
    pub fn number(&self, key: &str) -> u64 {
        self.text(key).parse().unwrap_or_else(|_| fail(&format!("{key}= must be a whole number")))
    }

    /// The `format` argument.
    pub fn protocol(&self) -> Protocol {
        match self.text("format") {
            "json" => Protocol::Json,
            "protobuf" => Protocol::Protobuf,
            other => fail(&format!("format={other}: expected json or protobuf")),
        }
    }
}

/// Prints `why` on stderr and exits with status 1.
pub fn fail(why: &str) -> ! {
    eprintln!("{why}");
    std::process::exit(1)
}

/// Prints the `RESULT` line.
pub fn result(fields: serde_json::Value) {
    println!("RESULT {fields}");
}

/// Prints a `READY` line (and makes sure the runner sees it now).
pub fn ready() {
    use std::io::Write as _;
    println!("READY");
    let _ = std::io::stdout().flush();
}

/// User + system CPU time of this process so far (every thread, also those that ended).
pub fn cpu_time() -> Duration {
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(usage) => duration(usage.user_time()) + duration(usage.system_time()),
        Err(_) => Duration::ZERO,
    }
}

fn duration(time: nix::sys::time::TimeVal) -> Duration {
    Duration::from_secs(time.tv_sec().max(0) as u64) + Duration::from_micros(time.tv_usec().max(0) as u64)
}

/// Voluntary and involuntary context switches of this process so far: how often its threads
/// went to sleep or were preempted, a measure of wake-ups.
pub fn wakeups() -> u64 {
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(usage) => {
            (usage.voluntary_context_switches() + usage.involuntary_context_switches()).max(0) as u64
        }
        Err(_) => 0,
    }
}

/// Resident memory of this process, KiB.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Threads of this process.
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map(|tasks| tasks.count()).unwrap_or(0)
}

/// The median and 99th percentile of `samples`, in microseconds.
pub fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort_unstable();
    let at = |fraction: f64| {
        let index = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
        samples.get(index).map_or(0.0, |sample| sample.as_secs_f64() * 1e6)
    };
    (at(0.50), at(0.99))
}

/// The measured part of `roundtrip`: `count` sequential calls, each timed, then the `RESULT`
/// line with p50, p99, wall and CPU time. A failed call ends the driver.
pub fn timed_round_trips(count: usize, mut call: impl FnMut() -> Result<(), String>) {
    let cpu_start = cpu_time();
    let started = Instant::now();
    let mut samples = Vec::with_capacity(count);
    for _ in 0..count {
        let sent = Instant::now();
        call().unwrap_or_else(|why| fail(&format!("call failed: {why}")));
        samples.push(sent.elapsed());
    }
    let wall = started.elapsed();
    let cpu = cpu_time() - cpu_start;
    let (p50, p99) = percentiles(samples);
    result(serde_json::json!({
        "count": count, "p50_us": p50, "p99_us": p99,
        "wall_s": wall.as_secs_f64(), "cpu_s": cpu.as_secs_f64(),
    }));
}
