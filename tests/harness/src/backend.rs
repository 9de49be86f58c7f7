//! The RPC proxy backend: a tiny HTTP server Centrifugo forwards client RPCs to.
//!
//! Every method echoes the request's payload back (`data` or, for binary proxies, `b64data`),
//! except [`RPC_FAIL_METHOD`], which answers with the application error [`RPC_FAIL_CODE`].

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

/// The RPC method the backend fails.
pub const RPC_FAIL_METHOD: &str = "fail";
/// The error code the backend answers [`RPC_FAIL_METHOD`] with (application range 400–1999).
pub const RPC_FAIL_CODE: u32 = 1042;
/// The error message that goes with [`RPC_FAIL_CODE`].
pub const RPC_FAIL_MESSAGE: &str = "failed on purpose";
/// The RPC method the backend answers only after [`RPC_SLOW_DELAY`] (an echo).
pub const RPC_SLOW_METHOD: &str = "slow";
/// How long [`RPC_SLOW_METHOD`] takes.
pub const RPC_SLOW_DELAY: std::time::Duration = std::time::Duration::from_millis(1500);

static SLOW_CALLS: AtomicUsize = AtomicUsize::new(0);

/// How many [`RPC_SLOW_METHOD`] calls have reached any backend of this process so far.
pub fn slow_calls_started() -> usize {
    SLOW_CALLS.load(Ordering::SeqCst)
}

/// A running backend on a free 127.0.0.1 port; stops when dropped.
pub struct RpcBackend {
    server: Arc<tiny_http::Server>,
    port: u16,
    thread: Option<JoinHandle<()>>,
}

impl RpcBackend {
    /// Starts the backend.
    ///
    /// # Panics
    ///
    /// When no local port can be bound.
    pub fn start() -> RpcBackend {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").expect("bind the RPC backend"));
        let port = server.server_addr().to_ip().expect("an IP listener").port();
        let serving = Arc::clone(&server);
        let thread = std::thread::Builder::new()
            .name("rpc-backend".into())
            .spawn(move || serve(&serving))
            .expect("spawn the RPC backend thread");
        RpcBackend { server, port, thread: Some(thread) }
    }

    /// The URL Centrifugo's `rpc.proxy.endpoint` points at.
    pub fn rpc_endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/centrifugo/rpc", self.port)
    }
}

impl Drop for RpcBackend {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn serve(server: &tiny_http::Server) {
    for mut request in server.incoming_requests() {
        let mut body = String::new();
        let answer = match request.as_reader().read_to_string(&mut body) {
            Ok(_) => answer(request.url(), &body),
            Err(err) => json!({ "error": { "code": 1000, "message": format!("unreadable request: {err}") } })
                .to_string(),
        };
        let response = tiny_http::Response::from_string(answer).with_header(
            "Content-Type: application/json".parse::<tiny_http::Header>().expect("a valid header"),
        );
        let _ = request.respond(response);
    }
}

fn answer(url: &str, body: &str) -> String {
    let error = |message: String| json!({ "error": { "code": 1000, "message": message } }).to_string();
    if url != "/centrifugo/rpc" {
        return error(format!("no handler for {url}"));
    }
    let request: RpcRequest = match serde_json::from_str(body) {
        Ok(request) => request,
        Err(err) => return error(format!("bad request body: {err}")),
    };
    if request.method == RPC_SLOW_METHOD {
        SLOW_CALLS.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(RPC_SLOW_DELAY);
    }
    if request.method == RPC_FAIL_METHOD {
        return json!({ "error": { "code": RPC_FAIL_CODE, "message": RPC_FAIL_MESSAGE } }).to_string();
    }
    // The payload goes back byte for byte, so tests can compare what the client receives exactly.
    match (request.data, request.b64data) {
        (Some(data), _) => format!(r#"{{"result":{{"data":{}}}}}"#, data.get()),
        (None, Some(b64)) => json!({ "result": { "b64data": b64 } }).to_string(),
        (None, None) => r#"{"result":{}}"#.to_string(),
    }
}

#[derive(Deserialize)]
struct RpcRequest {
    #[serde(default)]
    method: String,
    data: Option<Box<RawValue>>,
    b64data: Option<String>,
}
