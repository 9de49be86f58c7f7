//! The project's Centrifugo configuration (v6 option names).
//!
//! Channels by namespace (a channel is `<namespace>:<name>`):
//!
//! | namespace | what it has | who may subscribe |
//! |---|---|---|
//! | (none) | plain pub/sub; client publish allowed | anyone |
//! | [`HISTORY`] `hist` | history 100 / 300 s, recovery forced, history for clients | anyone |
//! | [`RECOVERY`] `rec` | history 100 / 300 s, recovery and positioning on client request | anyone |
//! | [`POSITIONED`] `pos` | history 10 / 300 s, positioning forced | anyone |
//! | [`SMALL_HISTORY`] `small` | history 2 / 300 s, recovery forced | anyone |
//! | [`PRESENCE`] `pres` | presence, join/leave pushed to everyone | anyone |
//! | [`DELTA`] `delta` | fossil delta (published as delta), history 10 / 60 s, recovery forced | anyone |
//! | [`TOKEN_ONLY`] `tok` | history 10 / 60 s, recovery forced | subscription token only |
//! | [`USER_LIMITED`] `dm` | user-limited channels, e.g. `dm:#42,43` | the listed users |
//! | [`PERSONAL`] `personal` | every authenticated user is subscribed server-side to `personal:#<user>` | server-side only |
//! | [`CHAT`] `chat` | history 50 / 300 s, recovery forced, presence, join/leave pushed | anyone |
//!
//! Private channels (`$name`) need a subscription token. RPC method `ping` answers without a
//! backend; every other method goes to [`crate::RpcBackend`]. Connections may be anonymous or
//! carry an HS256 token signed with [`crate::HMAC_SECRET`]. The server pings every 25 s.

use serde_json::{Value, json};

use crate::{API_KEY, HMAC_SECRET};

/// History, recovery forced.
pub const HISTORY: &str = "hist";
/// History, recovery and positioning when the client asks.
pub const RECOVERY: &str = "rec";
/// Positioning forced.
pub const POSITIONED: &str = "pos";
/// History of size 2, recovery forced: easy to overflow.
pub const SMALL_HISTORY: &str = "small";
/// Presence and join/leave.
pub const PRESENCE: &str = "pres";
/// Fossil delta compression.
pub const DELTA: &str = "delta";
/// Subscribing needs a subscription token.
pub const TOKEN_ONLY: &str = "tok";
/// User-limited channels.
pub const USER_LIMITED: &str = "dm";
/// Automatic personal server-side subscriptions.
pub const PERSONAL: &str = "personal";
/// Chat rooms: history, recovery, presence and join/leave.
pub const CHAT: &str = "chat";

/// The configuration for a server on `port` whose RPC proxy is at `rpc_endpoint`.
pub fn project_config(port: u16, rpc_endpoint: &str) -> Value {
    let open = json!({
        "allow_subscribe_for_client": true,
        "allow_subscribe_for_anonymous": true,
        "allow_publish_for_subscriber": true,
        "allow_publish_for_client": true,
        "allow_publish_for_anonymous": true,
        "allow_history_for_subscriber": true,
        "allow_history_for_client": true,
        "allow_history_for_anonymous": true,
        "allow_presence_for_subscriber": true,
        "allow_presence_for_client": true,
        "allow_presence_for_anonymous": true,
    });
    let namespace = |name: &str, options: Value| {
        let mut merged = open.clone();
        merged["name"] = json!(name);
        for (key, value) in options.as_object().expect("namespace options are an object") {
            merged[key] = value.clone();
        }
        merged
    };
    json!({
        "log": { "level": "info" },
        "usage_stats": { "disabled": true },
        "http_server": { "address": "127.0.0.1", "port": port },
        "health": { "enabled": true },
        "http_api": { "key": API_KEY },
        "client": {
            "allowed_origins": ["*"],
            "token": { "hmac_secret_key": HMAC_SECRET },
            "allow_anonymous_connect_without_token": true,
            "ping_interval": "25s",
            "pong_timeout": "8s",
            "expired_close_delay": "2s",
            "expired_sub_close_delay": "2s",
            "channel_limit": 20000,
            "queue_max_size": 67108864,
            "subscribe_to_user_personal_channel": {
                "enabled": true,
                "personal_channel_namespace": PERSONAL
            }
        },
        "websocket": { "message_size_limit": 1048576 },
        // The HTTP transports, for clients that cannot use WebSocket (both also serve
        // /emulation, where their commands go).
        "http_stream": { "enabled": true },
        "sse": { "enabled": true },
        "channel": {
            "without_namespace": open.clone(),
            "namespaces": [
                namespace(HISTORY, json!({
                    "history_size": 100, "history_ttl": "300s", "force_recovery": true })),
                namespace(RECOVERY, json!({
                    "history_size": 100, "history_ttl": "300s",
                    "allow_recovery": true, "allow_positioning": true })),
                namespace(POSITIONED, json!({
                    "history_size": 10, "history_ttl": "300s", "force_positioning": true })),
                namespace(SMALL_HISTORY, json!({
                    "history_size": 2, "history_ttl": "300s", "force_recovery": true })),
                namespace(PRESENCE, json!({
                    "presence": true, "join_leave": true, "force_push_join_leave": true })),
                namespace(DELTA, json!({
                    "history_size": 10, "history_ttl": "60s", "force_recovery": true,
                    "allowed_delta_types": ["fossil"], "delta_publish": true })),
                {
                    "name": TOKEN_ONLY,
                    "history_size": 10, "history_ttl": "60s", "force_recovery": true,
                    "allow_history_for_subscriber": true, "allow_presence_for_subscriber": true,
                    "allow_publish_for_subscriber": true
                },
                namespace(CHAT, json!({
                    "history_size": 50, "history_ttl": "300s", "force_recovery": true,
                    "presence": true, "join_leave": true, "force_push_join_leave": true })),
                { "name": USER_LIMITED, "allow_user_limited_channels": true,
                  "allow_publish_for_subscriber": true },
                { "name": PERSONAL, "presence": true,
                  "history_size": 10, "history_ttl": "60s", "force_recovery": true,
                  "allow_presence_for_client": true, "allow_history_for_client": true }
            ]
        },
        "rpc": {
            "proxy": { "endpoint": rpc_endpoint, "timeout": "2s" },
            "without_namespace": { "proxy_enabled": true },
            "ping": { "enabled": true, "method": "ping" }
        }
    })
}
