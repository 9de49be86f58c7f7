//! The harness never leaves a Centrifugo behind: not after a normal drop, not when the test
//! process panics, not when it is killed with SIGKILL.
//!
//! The panic and kill cases run this test binary again as a child ("victim") that starts a
//! server, reports its pid and then dies; the parent checks that the server process goes away.
//! Whether a process runs is read from Linux's /proc; elsewhere the tests stop saying so.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use centrifuge_test_harness::Centrifugo;

const VICTIM: &str = "HARNESS_LIFECYCLE_VICTIM";

/// Whether process `pid` exists (Linux: it has a directory in /proc).
#[cfg(target_os = "linux")]
fn running(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

/// Whether process `pid` exists: only Linux's /proc tells here, so the test stops.
#[cfg(not(target_os = "linux"))]
fn running(pid: u32) -> bool {
    panic!(
        "whether process {pid} runs is read from /proc, which only Linux has: this test runs on Linux only"
    )
}

/// Waits (bounded) for a process to disappear; true when it did.
fn gone_within(pid: u32, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while running(pid) {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    true
}

/// In a victim process: start a server, report its pid, then die the way `mode` says.
fn run_victim(mode: &str) {
    let server = Centrifugo::shared();
    println!("centrifugo-pid={}", server.pid());
    match mode {
        "panic" => panic!("the victim test panics on purpose"),
        _ => loop {
            std::thread::park();
        },
    }
}

/// Runs this test as a victim and returns the pid of the server it started.
fn victim_server(test: &str, mode: &str) -> (std::process::Child, u32) {
    let mut child = Command::new(std::env::current_exe().expect("the test binary's path"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(VICTIM, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the victim");
    let stdout = BufReader::new(child.stdout.take().expect("stdout was piped"));
    let (report, reported) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in stdout.lines().map_while(Result::ok) {
            // libtest prints the test's name first, on the same line.
            if let Some((_, pid)) = line.split_once("centrifugo-pid=") {
                let _ = report.send(pid.trim().parse::<u32>().expect("a pid"));
                return;
            }
        }
    });
    match reported.recv_timeout(Duration::from_secs(60)) {
        Ok(pid) => (child, pid),
        Err(_) => {
            let _ = child.kill();
            panic!("the victim did not report a server within 60 s");
        }
    }
}

#[test]
fn dropping_the_last_handle_stops_the_server() {
    let server = Centrifugo::start();
    let pid = server.pid();
    assert!(running(pid));
    drop(server);
    // Drop waits for the guardian, which waits for the server: it is gone at once.
    assert!(!running(pid), "server {pid} outlived its handle");
}

#[test]
fn a_panicking_test_process_leaves_no_server() {
    if let Ok(mode) = std::env::var(VICTIM) {
        return run_victim(&mode);
    }
    let (mut child, pid) = victim_server("a_panicking_test_process_leaves_no_server", "panic");
    let status = child.wait().expect("the victim ends");
    assert!(!status.success(), "the victim panicked, so it fails");
    assert!(gone_within(pid, Duration::from_secs(10)), "server {pid} outlived the panicking process");
}

#[test]
fn a_killed_test_process_leaves_no_server() {
    if let Ok(mode) = std::env::var(VICTIM) {
        return run_victim(&mode);
    }
    let (mut child, pid) = victim_server("a_killed_test_process_leaves_no_server", "hang");
    assert!(running(pid), "the victim's server runs");
    child.kill().expect("SIGKILL the victim");
    child.wait().expect("reap the victim");
    assert!(gone_within(pid, Duration::from_secs(10)), "server {pid} outlived the killed process");
}
