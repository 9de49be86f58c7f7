//! The driver side of the contract in `tests/peers/README.md`: `key=value` arguments, the
//! process's own CPU, wake-ups, memory and threads, and the `READY` and `RESULT` lines. It
//! measures the same way as `tests/peers/runner/src/driver.rs` (that crate can't be a
//! dependency here: this project stays out of the main workspace so tokio never enters it).

use std::collections::HashMap;
use std::io::Write as _;
use std::time::Duration;

use nix::sys::resource::{UsageWho, getrusage};

/// The scenario and its `key=value` arguments.
pub struct Args {
    pub scenario: String,
    values: HashMap<String, String>,
}

impl Args {
    /// Reads the process's arguments.
    pub fn from_env() -> Result<Args, String> {
        let mut args = std::env::args().skip(1);
        let scenario = args.next().ok_or("usage: driver-official <scenario> key=value ...")?;
        let values = args
            .map(|arg| match arg.split_once('=') {
                Some((key, value)) => Ok((key.to_string(), value.to_string())),
                None => Err(format!("argument {arg:?} is not key=value")),
            })
            .collect::<Result<_, _>>()?;
        Ok(Args { scenario, values })
    }

    /// A required string argument.
    pub fn text(&self, key: &str) -> Result<&str, String> {
        self.values.get(key).map(String::as_str).ok_or_else(|| format!("missing argument {key}="))
    }

    /// A required whole-number argument.
    pub fn number(&self, key: &str) -> Result<u64, String> {
        self.text(key)?.parse().map_err(|_| format!("{key}= must be a whole number"))
    }

    /// A required whole-number argument of at least 1, for counts that a scenario waits to
    /// reach (0 would only end at the timeout) or that do the work (0 workers never finish).
    pub fn positive(&self, key: &str) -> Result<u64, String> {
        match self.number(key)? {
            0 => Err(format!("{key}= must be at least 1")),
            n => Ok(n),
        }
    }
}

/// Prints the `RESULT` line (keys come out sorted, as from the other drivers).
pub fn result(fields: &serde_json::Value) {
    println!("RESULT {fields}");
    let _ = std::io::stdout().flush();
}

/// Prints a `READY` line and makes sure the runner sees it now: stdout is a pipe there, and
/// the runner publishes only once it has read the line.
pub fn ready() {
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
    let seconds = u64::try_from(time.tv_sec()).unwrap_or(0);
    let micros = u64::try_from(time.tv_usec()).unwrap_or(0);
    Duration::from_secs(seconds) + Duration::from_micros(micros)
}

/// Voluntary and involuntary context switches of this process so far: how often its threads
/// went to sleep or were preempted, a measure of wake-ups.
pub fn wakeups() -> u64 {
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(usage) => {
            let switches = usage.voluntary_context_switches() + usage.involuntary_context_switches();
            u64::try_from(switches).unwrap_or(0)
        }
        Err(_) => 0,
    }
}

/// Resident memory of this process (`VmRSS`), KiB; 0 if it cannot be read.
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// OS threads of this process (tokio workers, the SDK's event threads, main).
pub fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").map(|tasks| tasks.count()).unwrap_or(0)
}

/// The median and 99th percentile of `samples` in microseconds, picked as by the other
/// drivers: nearest rank on the sorted samples.
pub fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort_unstable();
    let at = |fraction: f64| {
        let index = ((samples.len() as f64 - 1.0) * fraction).round() as usize;
        samples.get(index).map_or(0.0, |sample| sample.as_secs_f64() * 1e6)
    };
    (at(0.50), at(0.99))
}
