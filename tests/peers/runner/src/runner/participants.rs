//! The participants: how each driver is built and started.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A driver that is built and ready to run.
#[derive(Clone, Debug)]
pub struct Participant {
    /// As shown in the report.
    pub name: &'static str,
    /// Only the raw baseline does not implement every scenario.
    pub baseline: bool,
    program: PathBuf,
    leading_args: Vec<String>,
    dir: PathBuf,
}

impl Participant {
    /// A command that runs the driver with `scenario` and its `key=value` arguments.
    pub fn command(&self, scenario: &str, args: &[String]) -> Command {
        let mut command = Command::new(&self.program);
        command.args(&self.leading_args).arg(scenario).args(args).current_dir(&self.dir);
        command
    }
}

/// Where everything lives.
pub struct Layout {
    /// The repository root.
    pub root: PathBuf,
    /// `tests/peers`.
    pub peers: PathBuf,
    /// Build output of the peers, under the repository's `target/peers`.
    pub out: PathBuf,
}

impl Layout {
    pub fn new() -> Layout {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../..");
        let root = root.canonicalize().unwrap_or(root);
        Layout { peers: root.join("tests/peers"), out: root.join("target/peers"), root }
    }
}

/// Builds every participant; a participant that cannot be built is returned as an error with
/// the reason (the report lists it as missing).
pub fn prepare_all(layout: &Layout) -> Vec<Result<Participant, (&'static str, String)>> {
    let _ = std::fs::create_dir_all(&layout.out);
    let ours_and_raw = build_rust_drivers(layout);
    vec![
        ours_and_raw
            .clone()
            .map(|dir| rust_driver("centrifuge-blocking", &dir, "driver-ours", false))
            .map_err(|why| ("centrifuge-blocking", why)),
        ours_and_raw
            .map(|dir| rust_driver("raw tungstenite", &dir, "driver-raw", true))
            .map_err(|why| ("raw tungstenite", why)),
        official(layout).map_err(|why| ("centrifuge-client (Rust, tokio)", why)),
        go(layout).map_err(|why| ("centrifuge-go", why)),
        js(layout).map_err(|why| ("centrifuge-js", why)),
        python(layout).map_err(|why| ("centrifuge-python", why)),
    ]
}

fn run(mut command: Command, what: &str) -> Result<(), String> {
    let output = command.output().map_err(|err| format!("{what}: cannot start: {err}"))?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: Vec<&str> = stderr.lines().rev().take(15).collect();
        Err(format!(
            "{what} failed ({}):\n{}",
            output.status,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ))
    }
}

/// `driver-ours` and `driver-raw`, built in release mode into the workspace's target.
fn build_rust_drivers(layout: &Layout) -> Result<PathBuf, String> {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command
        .args([
            "build",
            "--release",
            "-p",
            "centrifuge-peer-bench",
            "--bin",
            "driver-ours",
            "--bin",
            "driver-raw",
        ])
        .current_dir(&layout.root);
    run(command, "cargo build of driver-ours and driver-raw")?;
    Ok(layout.root.join("target/release"))
}

fn rust_driver(name: &'static str, dir: &Path, binary: &str, baseline: bool) -> Participant {
    Participant {
        name,
        baseline,
        program: dir.join(binary),
        leading_args: Vec::new(),
        dir: dir.to_path_buf(),
    }
}

/// The official async SDK, in its own cargo project and target directory.
fn official(layout: &Layout) -> Result<Participant, String> {
    let project = layout.peers.join("rust-official");
    let target = layout.out.join("rust-official");
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.args(["build", "--release"]).env("CARGO_TARGET_DIR", &target).current_dir(&project);
    run(command, "cargo build of the official SDK's driver")?;
    Ok(Participant {
        name: "centrifuge-client (Rust, tokio)",
        baseline: false,
        program: target.join("release/driver-official"),
        leading_args: Vec::new(),
        dir: project,
    })
}

fn go(layout: &Layout) -> Result<Participant, String> {
    let project = layout.peers.join("go");
    let binary = layout.out.join("go/driver-go");
    let mut command = Command::new("go");
    command.args(["build", "-o"]).arg(&binary).arg(".").current_dir(&project);
    run(command, "go build of the centrifuge-go driver")?;
    Ok(Participant {
        name: "centrifuge-go",
        baseline: false,
        program: binary,
        leading_args: Vec::new(),
        dir: project,
    })
}

fn js(layout: &Layout) -> Result<Participant, String> {
    let project = layout.peers.join("js");
    if !project.join("node_modules/centrifuge").exists() {
        let mut command = Command::new("npm");
        command.args(["ci", "--no-audit", "--no-fund"]).current_dir(&project);
        run(command, "npm ci for the centrifuge-js driver")?;
    }
    Ok(Participant {
        name: "centrifuge-js (Node)",
        baseline: false,
        program: PathBuf::from("node"),
        leading_args: vec!["driver.js".into()],
        dir: project,
    })
}

fn python(layout: &Layout) -> Result<Participant, String> {
    let project = layout.peers.join("python");
    let venv = layout.out.join("python-venv");
    let interpreter = venv.join("bin/python");
    if !interpreter.exists() {
        let mut command = Command::new("python3");
        command.args(["-m", "venv"]).arg(&venv);
        run(command, "python3 -m venv")?;
    }
    let mut command = Command::new(&interpreter);
    command
        .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", "requirements.txt"])
        .current_dir(&project);
    run(command, "pip install for the centrifuge-python driver")?;
    Ok(Participant {
        name: "centrifuge-python",
        baseline: false,
        program: interpreter,
        leading_args: vec!["driver.py".into()],
        dir: project,
    })
}
