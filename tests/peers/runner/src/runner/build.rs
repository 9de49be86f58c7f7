//! P6: a clean release build of an empty library that depends on one SDK: wall time and the
//! number of crates compiled (the probe itself not counted).

use std::path::Path;
use std::process::Command;
use std::time::Instant;

/// What one clean build took.
#[derive(Clone, Copy, Debug)]
pub struct BuildStats {
    pub seconds: f64,
    pub crates: usize,
}

/// Builds a probe crate under `out/build-<name>` whose only dependency is `dependency` (a line
/// of a `[dependencies]` table), from a fresh target directory. Sources already downloaded are
/// reused; only compilation is timed.
pub fn measure(out: &Path, name: &str, dependency: &str) -> Result<BuildStats, String> {
    let dir = out.join(format!("build-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).map_err(|err| err.to_string())?;
    let manifest = format!(
        "[package]\nname = \"build-probe-{name}\"\nversion = \"0.0.0\"\nedition = \"2021\"\npublish = false\n\n[dependencies]\n{dependency}\n\n[workspace]\n"
    );
    std::fs::write(dir.join("Cargo.toml"), manifest).map_err(|err| err.to_string())?;
    std::fs::write(dir.join("src/lib.rs"), "").map_err(|err| err.to_string())?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Resolve and download first, so that the timed build only compiles.
    let fetched =
        Command::new(&cargo).arg("fetch").current_dir(&dir).output().map_err(|err| err.to_string())?;
    if !fetched.status.success() {
        return Err(format!("cargo fetch for {name}: {}", String::from_utf8_lossy(&fetched.stderr)));
    }
    let started = Instant::now();
    let output = Command::new(&cargo)
        .args(["build", "--release"])
        .env("CARGO_TARGET_DIR", dir.join("target"))
        .current_dir(&dir)
        .output()
        .map_err(|err| err.to_string())?;
    let seconds = started.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        return Err(format!(
            "cargo build for {name}: {}",
            stderr.lines().rev().take(10).collect::<Vec<_>>().join(" | ")
        ));
    }
    let compiled = stderr.lines().filter(|line| line.trim_start().starts_with("Compiling ")).count();
    Ok(BuildStats { seconds, crates: compiled.saturating_sub(1) })
}
