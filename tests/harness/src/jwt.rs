//! HS256 tokens for connections and subscriptions.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

/// JWT claims, built up and then signed.
///
/// ```ignore
/// let token = Claims::connection("42").expires_in(Duration::from_secs(60)).sign(HMAC_SECRET);
/// ```
#[derive(Clone, Debug)]
pub struct Claims(Map<String, Value>);

impl Claims {
    /// Claims of a connection token for `user`.
    pub fn connection(user: &str) -> Claims {
        let mut claims = Map::new();
        claims.insert("sub".into(), json!(user));
        Claims(claims)
    }

    /// Claims of a subscription token for `user` on `channel`.
    pub fn subscription(user: &str, channel: &str) -> Claims {
        let mut claims = Claims::connection(user);
        claims.0.insert("channel".into(), json!(channel));
        claims
    }

    /// Sets `exp` to now plus `ttl`.
    pub fn expires_in(self, ttl: Duration) -> Claims {
        self.claim("exp", json!(unix_now() + ttl.as_secs()))
    }

    /// Sets `exp` to a moment in the past (an already expired token).
    pub fn expired(self) -> Claims {
        self.claim("exp", json!(unix_now() - 60))
    }

    /// Sets `info`, the JSON the server shows in presence and join/leave.
    pub fn info(self, info: Value) -> Claims {
        self.claim("info", info)
    }

    /// Sets `channels`, server-side subscriptions for a connection.
    pub fn channels(self, channels: &[&str]) -> Claims {
        self.claim("channels", json!(channels))
    }

    /// Sets `client`, binding a subscription token to one client id.
    pub fn client(self, client: &str) -> Claims {
        self.claim("client", json!(client))
    }

    /// Sets any claim.
    pub fn claim(mut self, name: &str, value: Value) -> Claims {
        self.0.insert(name.into(), value);
        self
    }

    /// The signed token.
    pub fn sign(&self, secret: &str) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(Value::Object(self.0.clone()).to_string());
        let signing_input = format!("{header}.{payload}");
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|elapsed| elapsed.as_secs()).unwrap_or(0)
}
