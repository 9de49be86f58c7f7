//! A Centrifugo process for tests.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::api::ServerApi;
use crate::backend::RpcBackend;
use crate::config::project_config;
use crate::tls::TestCertificates;
use crate::{API_KEY, binary};

/// Runs Centrifugo (`$0`) with config `$1`, output to `$2` (its pid to `$2.pid`), and kills it
/// with SIGKILL as soon as our stdin reaches end of file, that is when the test process's end of
/// the pipe closes.
/// The reader needs an explicit redirection: a background job's stdin would be /dev/null.
const GUARDIAN: &str = r#"
exec 3<&0
"$0" --config "$1" >"$2" 2>&1 </dev/null 3<&- &
pid=$!
echo "$pid" >"$2.pid"
( while read -r _; do :; done; kill -KILL "$pid" 2>/dev/null ) <&3 &
exec 3<&-
wait "$pid"
"#;

const STARTUP_TIMEOUT: Duration = Duration::from_secs(60);
const PORT_ATTEMPTS: usize = 5;

/// A running Centrifugo on 127.0.0.1 with the project's configuration; stopped on drop.
pub struct Centrifugo {
    port: u16,
    /// Where health and the server API answer: `port`, or the plain-HTTP internal port of a TLS server.
    api_port: u16,
    certificates: Option<TestCertificates>,
    guardian: Child,
    lifeline: Option<ChildStdin>,
    run_dir: PathBuf,
    api: ServerApi,
    _backend: RpcBackend,
}

impl Centrifugo {
    /// The server shared by the tests of this process that run at the same time.
    ///
    /// It starts on first use and stops when the last holder drops it; a later call starts a
    /// fresh one. Use [`Centrifugo::start`] for a server a test may restart or break.
    pub fn shared() -> Arc<Centrifugo> {
        static SHARED: Mutex<Weak<Centrifugo>> = Mutex::new(Weak::new());
        let mut slot = SHARED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(server) = slot.upgrade() {
            return server;
        }
        let server = Arc::new(Centrifugo::start());
        *slot = Arc::downgrade(&server);
        server
    }

    /// Starts a dedicated server with the project's configuration.
    ///
    /// # Panics
    ///
    /// When Centrifugo cannot be obtained or does not become healthy; the message carries the
    /// end of its log.
    pub fn start() -> Centrifugo {
        Centrifugo::start_with(|_| {})
    }

    /// Starts a dedicated server after `adjust` has changed the configuration.
    pub fn start_with(adjust: impl Fn(&mut Value)) -> Centrifugo {
        Centrifugo::launch_with(None, None, adjust)
    }

    /// Starts a dedicated server on `port` (e.g. one a client is already trying to reach).
    pub fn start_on_port(port: u16) -> Centrifugo {
        Centrifugo::launch_with(Some(port), None, |_| {})
    }

    /// Starts a dedicated server whose WebSocket endpoint speaks TLS only, with a certificate
    /// from a CA generated for it ([`Centrifugo::ca_pem`]). Health and the server API stay on a
    /// separate plain-HTTP internal port.
    pub fn start_tls() -> Centrifugo {
        Centrifugo::launch_with(None, Some(TestCertificates::generate()), |_| {})
    }

    fn launch_with(
        fixed_port: Option<u16>,
        certificates: Option<TestCertificates>,
        adjust: impl Fn(&mut Value),
    ) -> Centrifugo {
        let binary = binary::centrifugo();
        let backend = RpcBackend::start();
        let mut failures = Vec::new();
        let attempts = if fixed_port.is_some() { 1 } else { PORT_ATTEMPTS };
        for _ in 0..attempts {
            let port = fixed_port.unwrap_or_else(free_port);
            let mut config = project_config(port, &backend.rpc_endpoint());
            let api_port = match &certificates {
                Some(certificates) => {
                    let internal_port = free_port();
                    serve_tls_externally(&mut config, certificates, internal_port);
                    internal_port
                }
                None => port,
            };
            adjust(&mut config);
            match launch(&binary, api_port, &config) {
                Ok((guardian, lifeline, run_dir)) => {
                    return Centrifugo {
                        port,
                        api_port,
                        certificates,
                        guardian,
                        lifeline: Some(lifeline),
                        run_dir,
                        api: ServerApi::new(api_port, API_KEY),
                        _backend: backend,
                    };
                }
                Err(Launch::PortTaken(log)) => failures.push(log),
                Err(Launch::Failed(why)) => panic!("{why}"),
            }
        }
        panic!("Centrifugo could not bind a free port in {PORT_ATTEMPTS} attempts; last log:\n{failures:?}")
    }

    /// The HTTP port of the WebSocket endpoint (API and health share it unless TLS is on).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The WebSocket endpoint, `ws://127.0.0.1:<port>/connection/websocket` (`wss://` for a
    /// server from [`Centrifugo::start_tls`]).
    pub fn ws_url(&self) -> String {
        let scheme = if self.certificates.is_some() { "wss" } else { "ws" };
        format!("{scheme}://127.0.0.1:{}/connection/websocket", self.port)
    }

    /// The HTTP-streaming endpoint, `http://127.0.0.1:<port>/connection/http_stream` (`https://`
    /// for a server from [`Centrifugo::start_tls`]).
    pub fn http_stream_url(&self) -> String {
        format!("{}://127.0.0.1:{}/connection/http_stream", self.http_scheme(), self.port)
    }

    /// The SSE endpoint, `http://127.0.0.1:<port>/connection/sse` (`https://` with TLS).
    pub fn sse_url(&self) -> String {
        format!("{}://127.0.0.1:{}/connection/sse", self.http_scheme(), self.port)
    }

    fn http_scheme(&self) -> &'static str {
        if self.certificates.is_some() { "https" } else { "http" }
    }

    /// The PEM of the CA that signed the certificate of a server from [`Centrifugo::start_tls`].
    pub fn ca_pem(&self) -> Option<&str> {
        self.certificates.as_ref().map(|certificates| certificates.ca_pem.as_str())
    }

    /// The port health and the server API answer on (differs from [`Centrifugo::port`] for TLS).
    pub fn api_port(&self) -> u16 {
        self.api_port
    }

    /// The server HTTP API.
    pub fn api(&self) -> &ServerApi {
        &self.api
    }

    /// The operating system's process id of the server.
    pub fn pid(&self) -> u32 {
        std::fs::read_to_string(self.run_dir.join("centrifugo.log.pid"))
            .ok()
            .and_then(|text| text.trim().parse().ok())
            .expect("the guardian records the server's pid before the server is healthy")
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.run_dir.join("centrifugo.log")).unwrap_or_default()
    }
}

impl Drop for Centrifugo {
    fn drop(&mut self) {
        // Closing our end of the pipe is the stop signal; the guardian exits once the server has.
        drop(self.lifeline.take());
        let _ = self.guardian.wait();
        let _ = std::fs::remove_dir_all(&self.run_dir);
    }
}

/// TLS on the external endpoints (WebSocket) with `certificates`; the internal ones (health,
/// API) on `internal_port` in plain HTTP, so the harness needs no TLS client of its own.
fn serve_tls_externally(config: &mut Value, certificates: &TestCertificates, internal_port: u16) {
    let server = &mut config["http_server"];
    server["tls"] = serde_json::json!({
        "enabled": true,
        "cert_pem": certificates.server_cert_pem,
        "key_pem": certificates.server_key_pem,
    });
    server["tls_external"] = Value::Bool(true);
    server["internal_address"] = Value::String("127.0.0.1".into());
    server["internal_port"] = Value::String(internal_port.to_string());
}

enum Launch {
    PortTaken(String),
    Failed(String),
}

/// Starts the server and waits until `health_port` answers `/health`.
fn launch(
    binary: &std::path::Path,
    health_port: u16,
    config: &Value,
) -> Result<(Child, ChildStdin, PathBuf), Launch> {
    static RUNS: AtomicUsize = AtomicUsize::new(0);
    let run_dir = std::env::temp_dir().join(format!(
        "centrifuge-harness-{}-{}",
        std::process::id(),
        RUNS.fetch_add(1, Ordering::Relaxed)
    ));
    let fail = |why: String| Launch::Failed(why);
    std::fs::create_dir_all(&run_dir)
        .map_err(|err| fail(format!("cannot create {}: {err}", run_dir.display())))?;
    let config_path = run_dir.join("config.json");
    let log_path = run_dir.join("centrifugo.log");
    std::fs::write(&config_path, config.to_string())
        .map_err(|err| fail(format!("cannot write {}: {err}", config_path.display())))?;

    let mut guardian = Command::new("sh")
        .arg("-c")
        .arg(GUARDIAN)
        .arg(binary)
        .arg(&config_path)
        .arg(&log_path)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|err| fail(format!("cannot start sh to run {}: {err}", binary.display())))?;
    let lifeline = guardian.stdin.take().expect("stdin was piped");

    let health = format!("http://127.0.0.1:{health_port}/health");
    let agent =
        ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(1))).build().new_agent();
    let deadline = Instant::now() + STARTUP_TIMEOUT;
    loop {
        if agent.get(&health).call().is_ok() {
            return Ok((guardian, lifeline, run_dir));
        }
        let exited = matches!(guardian.try_wait(), Ok(Some(_)));
        if exited || Instant::now() > deadline {
            drop(lifeline);
            let _ = guardian.wait();
            let mut log = String::new();
            let _ = std::fs::File::open(&log_path).and_then(|mut file| file.read_to_string(&mut log));
            let _ = std::fs::remove_dir_all(&run_dir);
            if log.contains("address already in use") {
                return Err(Launch::PortTaken(log));
            }
            let why = if exited { "exited during startup" } else { "did not become healthy in time" };
            return Err(fail(format!("Centrifugo {} on port {health_port}; its log:\n{log}", why)));
        }
        // Readiness polling of a starting process, not a test wait.
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A port nothing listens on, outside the range the kernel hands out for `127.0.0.1:0`, so that
/// no other server of the test run can take it while a test keeps it free on purpose (e.g. a
/// client dialing a server that is not up yet).
pub fn unused_port() -> u16 {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    // Linux hands out 32768–60999; stay in 20000–31999, spread by process id.
    let base = 20_000 + (std::process::id() as usize * 97) % 12_000;
    for _ in 0..12_000 {
        let candidate = 20_000 + (base - 20_000 + NEXT.fetch_add(1, Ordering::Relaxed)) % 12_000;
        let port = u16::try_from(candidate).expect("below 32000");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no unused port in 20000–31999");
}

/// A port nothing listens on right now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("bind a free 127.0.0.1 port")
}
