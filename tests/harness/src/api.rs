//! The server HTTP API (`POST /api/<method>` with `X-API-Key`).
//!
//! Payloads (`data`) are passed as raw JSON text and sent byte for byte, so a test can check
//! that a client receives exactly what was published.

use std::fmt;
use std::time::Duration;

use serde_json::{Value, json};

/// A client of one server's HTTP API.
#[derive(Clone)]
pub struct ServerApi {
    agent: ureq::Agent,
    base: String,
    key: String,
}

/// A failed API call.
#[derive(Debug)]
pub enum ApiError {
    /// The HTTP request itself failed.
    Transport(String),
    /// The server answered with an error object.
    Server {
        /// The error code.
        code: u64,
        /// The error message.
        message: String,
    },
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::Transport(why) => write!(f, "server API request failed: {why}"),
            ApiError::Server { code, message } => write!(f, "server API error {code}: {message}"),
        }
    }
}

impl std::error::Error for ApiError {}

impl ServerApi {
    /// An API client for the server whose HTTP port is `port`.
    pub fn new(port: u16, key: &str) -> ServerApi {
        let agent =
            ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().new_agent();
        ServerApi { agent, base: format!("http://127.0.0.1:{port}/api"), key: key.to_string() }
    }

    /// Calls `method` with a JSON `body` (text) and returns the `result` object.
    pub fn call(&self, method: &str, body: &str) -> Result<Value, ApiError> {
        let mut response = self
            .agent
            .post(format!("{}/{method}", self.base))
            .header("X-API-Key", &self.key)
            .header("Content-Type", "application/json")
            .send(body)
            .map_err(|err| ApiError::Transport(err.to_string()))?;
        let reply: Value =
            response.body_mut().read_json().map_err(|err| ApiError::Transport(err.to_string()))?;
        if let Some(error) = reply.get("error") {
            return Err(ApiError::Server {
                code: error["code"].as_u64().unwrap_or(0),
                message: error["message"].as_str().unwrap_or_default().to_string(),
            });
        }
        Ok(reply.get("result").cloned().unwrap_or(Value::Null))
    }

    /// Publishes raw JSON `data` into `channel`; returns `{offset, epoch}`.
    pub fn publish(&self, channel: &str, data: &str) -> Result<Value, ApiError> {
        self.call("publish", &format!(r#"{{"channel":{},"data":{data}}}"#, json!(channel)))
    }

    /// Publishes raw JSON `data` into every channel of `channels`.
    pub fn broadcast(&self, channels: &[&str], data: &str) -> Result<Value, ApiError> {
        self.call("broadcast", &format!(r#"{{"channels":{},"data":{data}}}"#, json!(channels)))
    }

    /// Disconnects every connection of `user` with `code` and `reason`.
    pub fn disconnect(&self, user: &str, code: u32, reason: &str) -> Result<Value, ApiError> {
        let body = json!({ "user": user, "disconnect": { "code": code, "reason": reason } });
        self.call("disconnect", &body.to_string())
    }

    /// Unsubscribes `user` from `channel`.
    pub fn unsubscribe(&self, user: &str, channel: &str) -> Result<Value, ApiError> {
        self.call("unsubscribe", &json!({ "user": user, "channel": channel }).to_string())
    }

    /// Subscribes the online connections of `user` to `channel` (a server-side subscription).
    pub fn subscribe(&self, user: &str, channel: &str) -> Result<Value, ApiError> {
        self.call("subscribe", &json!({ "user": user, "channel": channel }).to_string())
    }

    /// The last `limit` publications of `channel`, with the stream position.
    pub fn history(&self, channel: &str, limit: i32) -> Result<Value, ApiError> {
        self.call("history", &json!({ "channel": channel, "limit": limit }).to_string())
    }

    /// The clients subscribed to `channel`.
    pub fn presence(&self, channel: &str) -> Result<Value, ApiError> {
        self.call("presence", &json!({ "channel": channel }).to_string())
    }

    /// Client and user counts of `channel`.
    pub fn presence_stats(&self, channel: &str) -> Result<Value, ApiError> {
        self.call("presence_stats", &json!({ "channel": channel }).to_string())
    }

    /// Node information (version, client counts).
    pub fn info(&self) -> Result<Value, ApiError> {
        self.call("info", "{}")
    }
}
