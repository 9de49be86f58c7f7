//! Finding or building the `centrifugo` binary.
//!
//! Order: `CENTRIFUGO_BIN` (used as given), a `centrifugo` v6 on `PATH`, the cached build under
//! `<target>/centrifugo/v6.9.1/`, and finally a fresh `go install` into that cache. The build
//! goes to a private directory first and is renamed into place, so concurrent test processes
//! never see a half-written binary.

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use crate::CENTRIFUGO_VERSION;

const MODULE: &str = "github.com/centrifugal/centrifugo/v6";

/// The path of a usable `centrifugo` binary, found or built once per process.
///
/// # Panics
///
/// With one line saying what to do when there is no binary and Go is missing, or the build
/// fails.
pub fn centrifugo() -> PathBuf {
    static BINARY: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BINARY.get_or_init(locate) {
        Ok(path) => path.clone(),
        Err(why) => panic!("{why}"),
    }
}

fn locate() -> Result<PathBuf, String> {
    if let Some(path) = env::var_os("CENTRIFUGO_BIN").filter(|value| !value.is_empty()) {
        let path = PathBuf::from(path);
        return if path.is_file() {
            Ok(path)
        } else {
            Err(format!("CENTRIFUGO_BIN={} is not a file", path.display()))
        };
    }
    if let Some(path) = on_path("centrifugo").filter(|path| is_v6(path)) {
        return Ok(path);
    }
    let cached = cache_dir().join("centrifugo");
    if cached.is_file() {
        return Ok(cached);
    }
    build(&cached)
}

/// Where the harness caches the built binary: `<target>/centrifugo/v<version>/`.
pub fn cache_dir() -> PathBuf {
    let target = env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("..").join("target"));
    target.join("centrifugo").join(format!("v{CENTRIFUGO_VERSION}"))
}

fn build(destination: &Path) -> Result<PathBuf, String> {
    let go = on_path("go")
        .or_else(|| Some(PathBuf::from("/usr/local/go/bin/go")).filter(|path| path.is_file()))
        .ok_or_else(|| {
            "real-server tests need Centrifugo v6: install Go 1.26 or newer so the harness can build it, \
             or set CENTRIFUGO_BIN to a centrifugo v6 binary"
                .to_string()
        })?;
    let dir = destination.parent().expect("cache path has a parent");
    let staging = dir.join(format!("build-{}", std::process::id()));
    std::fs::create_dir_all(&staging).map_err(|err| format!("cannot create {}: {err}", staging.display()))?;
    eprintln!(
        "centrifuge-test-harness: building Centrifugo v{CENTRIFUGO_VERSION} with `go install` \
         (first run only, a few minutes) into {}",
        dir.display()
    );
    let status = Command::new(&go)
        .arg("install")
        .arg("-ldflags")
        .arg(format!("-X {MODULE}/internal/build.Version={CENTRIFUGO_VERSION}"))
        .arg(format!("{MODULE}@v{CENTRIFUGO_VERSION}"))
        .env("GOBIN", &staging)
        .env("CGO_ENABLED", "0")
        .status()
        .map_err(|err| format!("cannot run {}: {err}", go.display()))?;
    if !status.success() {
        return Err(format!(
            "`go install {MODULE}@v{CENTRIFUGO_VERSION}` failed ({status}); see its output above"
        ));
    }
    std::fs::rename(staging.join("centrifugo"), destination)
        .map_err(|err| format!("cannot move the built centrifugo into {}: {err}", destination.display()))?;
    let _ = std::fs::remove_dir_all(&staging);
    Ok(destination.to_path_buf())
}

fn on_path(name: &str) -> Option<PathBuf> {
    env::split_paths(&env::var_os("PATH")?).map(|dir| dir.join(name)).find(|path| path.is_file())
}

fn is_v6(binary: &Path) -> bool {
    let Ok(output) = Command::new(binary).arg("version").output() else {
        return false;
    };
    let version = String::from_utf8_lossy(&output.stdout);
    let usable = version.contains(" v6.") || version.contains(" 6.");
    if !usable {
        eprintln!(
            "centrifuge-test-harness: ignoring {} ({}): the tests need Centrifugo v6",
            binary.display(),
            version.trim()
        );
    }
    usable
}
