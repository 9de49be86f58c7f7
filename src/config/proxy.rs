//! Which proxy the client dials through: [`Proxy`], [`HttpProxy`] and [`Socks5Proxy`].
//!
//! Public data only; dialing through them, and reading the environment at each attempt, is the
//! transport's job (`transport::proxy`). No `Debug` output here shows a password, nor a user
//! name: only whether credentials are set.

use std::fmt;
use std::net::Ipv6Addr;

/// How the client reaches the server: directly, through a proxy, or as the environment says.
///
/// One setting for every transport, set with [`ClientConfig::proxy`](crate::ClientConfig::proxy):
///
/// ```
/// use centrifuge_blocking::{ClientConfig, HttpProxy, Proxy, Socks5Proxy};
///
/// let from_env = ClientConfig::default(); // Proxy::FromEnvironment
/// let direct = ClientConfig::default().proxy(Proxy::None);
/// let http = ClientConfig::default().proxy(HttpProxy::new("proxy.example.com:3128"));
/// let socks = ClientConfig::default().proxy(
///     Socks5Proxy::new("127.0.0.1:1080").credentials("user", "password").resolve_at_proxy(true),
/// );
/// # let _ = (from_env, direct, http, socks);
/// ```
///
/// # Proxies from the environment
///
/// With [`Proxy::FromEnvironment`] (the default) the client reads these variables **at every
/// connection attempt**, so that a change (a laptop moving between networks, or a variable the
/// application sets) applies from the next attempt. The rules are curl's:
///
/// - **Which variable.** For `wss://` (and `https://`) servers `HTTPS_PROXY`, for `ws://` (and
///   `http://`) servers `HTTP_PROXY`; when that is not set, `ALL_PROXY`. For each the upper-case
///   name is read first, then the lower-case one (`https_proxy`…); an empty value counts as not
///   set. When `REQUEST_METHOD` is set (the program runs as a CGI script) `HTTP_PROXY` is ignored,
///   since a request's `Proxy:` header arrives as that variable ("httpoxy"); `http_proxy` still
///   counts.
/// - **The value** is a URL, `scheme://[user[:password]@]host[:port][/]`: `http://` for an HTTP
///   proxy reached with `CONNECT` (port 80 unless given), `socks5://` for a SOCKS5 proxy with the
///   server's name resolved by the client, `socks5h://` for one that resolves it itself (both
///   port 1080 unless given). Without a scheme it is `http://`. IPv6 proxy hosts go in brackets.
///   User name and password are percent-decoded (`p%40ss` is `p@ss`).
/// - **Other schemes** (`https://`, `socks4://`…) and malformed values are not skipped: the
///   connection attempt fails with an [`Error::Transport`](crate::Error::Transport) naming the
///   variable (never its credentials), and the client retries with backoff. Connecting around a
///   proxy the user set would be a surprise, and on some networks a leak.
/// - **`NO_PROXY`** (then `no_proxy`) lists servers reached directly: comma-separated entries,
///   spaces ignored, case-insensitive. `*` matches every server. An IP address (`10.1.2.3`,
///   `::1`) or a CIDR block (`10.0.0.0/8`, `fd00::/8`) matches a server given by an IP address in
///   it; names are not resolved for this, so `127.0.0.1` does not match `localhost`. Any other
///   entry is a domain that matches itself and its subdomains: `example.com`, `.example.com`
///   and `*.example.com` all match `example.com` and `ws.example.com`. An entry may end in
///   `:port` (IPv6 addresses then in brackets, `[::1]:8000`) to match that port only.
///   Loopback addresses are not exempt by themselves: list them to bypass the proxy.
///
/// An explicit [`Proxy::Http`] or [`Proxy::Socks5`] ignores the environment, `NO_PROXY`
/// included; [`Proxy::None`] ignores it too and always connects directly.
///
/// An HTTP proxy carries `ws://` as well as `wss://` through a `CONNECT` tunnel; some proxies
/// (Squid by default) allow `CONNECT` to port 443 only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proxy {
    /// Connects directly, whatever the environment says.
    None,
    /// Uses the proxy the environment variables name, if any (see above).
    #[default]
    FromEnvironment,
    /// Tunnels through an HTTP proxy with `CONNECT`.
    Http(HttpProxy),
    /// Connects through a SOCKS5 proxy.
    Socks5(Socks5Proxy),
}

impl From<HttpProxy> for Proxy {
    fn from(proxy: HttpProxy) -> Proxy {
        Proxy::Http(proxy)
    }
}

impl From<Socks5Proxy> for Proxy {
    fn from(proxy: Socks5Proxy) -> Proxy {
        Proxy::Socks5(proxy)
    }
}

/// An HTTP proxy reached with `CONNECT`, for `ws://` and `wss://` alike.
///
/// The credentials travel in clear text to the proxy (basic auth), as with any HTTP proxy.
#[derive(Clone, PartialEq, Eq)]
pub struct HttpProxy {
    pub(crate) address: String,
    pub(crate) credentials: Option<(String, String)>,
}

impl HttpProxy {
    /// A proxy at `address`, as `host:port` (an IPv6 host in brackets: `[::1]:3128`).
    pub fn new(address: impl Into<String>) -> HttpProxy {
        HttpProxy { address: address.into(), credentials: None }
    }

    /// Authenticates to the proxy with HTTP basic auth. The user name cannot contain `:`.
    /// Defaults to no authentication.
    pub fn basic_auth(mut self, user: impl Into<String>, password: impl Into<String>) -> HttpProxy {
        self.credentials = Some((user.into(), password.into()));
        self
    }
}

impl fmt::Debug for HttpProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpProxy")
            .field("address", &self.address)
            .field("credentials", &self.credentials.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// A SOCKS5 proxy (RFC 1928), optionally with a user name and password (RFC 1929).
///
/// By default the client resolves the server's name itself and asks the proxy for an IP
/// address, trying each address the name resolves to in turn (curl's `socks5://`);
/// [`resolve_at_proxy`](Self::resolve_at_proxy) hands the name to the proxy instead
/// (`socks5h://`), for names only the proxy's network knows (and so that the client's network
/// does not see the lookups). Servers given by IP address are always asked for by address.
#[derive(Clone, PartialEq, Eq)]
pub struct Socks5Proxy {
    pub(crate) address: String,
    pub(crate) credentials: Option<(String, String)>,
    pub(crate) resolve_at_proxy: bool,
}

impl Socks5Proxy {
    /// A proxy at `address`, as `host:port` (an IPv6 host in brackets: `[::1]:1080`).
    pub fn new(address: impl Into<String>) -> Socks5Proxy {
        Socks5Proxy { address: address.into(), credentials: None, resolve_at_proxy: false }
    }

    /// Authenticates with a user name and a password, each 1 to 255 bytes (RFC 1929: they
    /// travel in clear text). Defaults to no authentication.
    pub fn credentials(mut self, user: impl Into<String>, password: impl Into<String>) -> Socks5Proxy {
        self.credentials = Some((user.into(), password.into()));
        self
    }

    /// Whether the proxy resolves the server's name (`true`, as `socks5h://`) or the client does
    /// (`false`, as `socks5://`). Defaults to `false`.
    pub fn resolve_at_proxy(mut self, at_proxy: bool) -> Socks5Proxy {
        self.resolve_at_proxy = at_proxy;
        self
    }
}

impl fmt::Debug for Socks5Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Socks5Proxy")
            .field("address", &self.address)
            .field("credentials", &self.credentials.as_ref().map(|_| "<redacted>"))
            .field("resolve_at_proxy", &self.resolve_at_proxy)
            .finish()
    }
}

impl Proxy {
    /// Checks the address and the credentials; the text says what is wrong, without secrets.
    pub(crate) fn validate(&self) -> Result<(), String> {
        match self {
            Proxy::None | Proxy::FromEnvironment => Ok(()),
            Proxy::Http(proxy) => {
                check_address("HTTP", &proxy.address)?;
                match &proxy.credentials {
                    Some((user, _)) if user.contains(':') => Err(
                        "HTTP proxy user name cannot contain ':' (basic auth puts one between user and password)"
                            .into(),
                    ),
                    _ => Ok(()),
                }
            }
            Proxy::Socks5(proxy) => {
                check_address("SOCKS5", &proxy.address)?;
                match &proxy.credentials {
                    Some((user, password)) => check_socks5_credentials(user, password),
                    None => Ok(()),
                }
            }
        }
    }
}

/// RFC 1929 gives each one length byte and asks for at least one byte.
pub(crate) fn check_socks5_credentials(user: &str, password: &str) -> Result<(), String> {
    for (what, value) in [("user name", user), ("password", password)] {
        if !(1..=255).contains(&value.len()) {
            return Err(format!("SOCKS5 proxy {what} must be 1 to 255 bytes long, not {}", value.len()));
        }
    }
    Ok(())
}

/// `host:port`, with a port from 1 to 65535 and an IPv6 host in brackets.
fn check_address(kind: &str, address: &str) -> Result<(), String> {
    // User info in the address would put a password into the messages below.
    if address.contains('@') {
        return Err(format!(
            "{kind} proxy address contains user info (user:password@); give the credentials separately"
        ));
    }
    let invalid = |why: &str| Err(format!("{kind} proxy address {address:?} is not host:port: {why}"));
    if address.contains("://") {
        return invalid("leave the scheme out");
    }
    if address.chars().any(|c| c.is_whitespace() || c.is_control() || c == '/') {
        return invalid("it contains a space, a control character or a '/'");
    }
    let Some((host, port)) = address.rsplit_once(':') else {
        return invalid("the port is missing");
    };
    if host.is_empty() {
        return invalid("the host is missing");
    }
    if !matches!(port.parse::<u16>(), Ok(port) if port > 0) {
        return invalid("the port is not a number from 1 to 65535");
    }
    if let Some(inner) = host.strip_prefix('[') {
        if !matches!(inner.strip_suffix(']').map(str::parse::<Ipv6Addr>), Some(Ok(_))) {
            return invalid("the brackets do not hold an IPv6 address");
        }
    } else if host.contains(':') || host.contains(']') {
        return invalid("an IPv6 host goes in brackets, as in [::1]:1080");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_checked_without_showing_credentials() {
        for good in ["proxy:3128", "10.0.0.1:1080", "[::1]:1080", "proxy.example.com:65535"] {
            assert_eq!(Proxy::Http(HttpProxy::new(good)).validate(), Ok(()), "{good}");
            assert_eq!(Proxy::Socks5(Socks5Proxy::new(good)).validate(), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("no-port", "port is missing"),
            (":3128", "host is missing"),
            ("proxy:0", "1 to 65535"),
            ("proxy:70000", "1 to 65535"),
            ("proxy:http", "1 to 65535"),
            ("::1:1080", "brackets"),
            ("[::g]:1080", "IPv6"),
            ("http://proxy:3128", "scheme"),
            ("proxy :3128", "space"),
        ] {
            let message = Proxy::Socks5(Socks5Proxy::new(bad)).validate().unwrap_err();
            assert!(message.contains(why) && message.contains("host:port"), "{bad}: {message}");
        }
        let message = Proxy::Http(HttpProxy::new("user:hunter2@proxy:3128")).validate().unwrap_err();
        assert!(message.contains("user info") && !message.contains("hunter2"), "{message}");
    }

    #[test]
    fn socks5_credentials_are_one_to_255_bytes_and_http_users_have_no_colon() {
        let socks = |user: &str, password: &str| {
            Proxy::from(Socks5Proxy::new("proxy:1080").credentials(user, password)).validate()
        };
        assert_eq!(socks("u", "p"), Ok(()));
        assert_eq!(socks(&"u".repeat(255), &"p".repeat(255)), Ok(()));
        assert!(socks("", "p").unwrap_err().contains("user name must be 1 to 255 bytes long, not 0"));
        assert!(socks("u", "").unwrap_err().contains("password must be 1 to 255 bytes long, not 0"));
        let long = socks("u", &"secret".repeat(50)).unwrap_err();
        assert!(long.contains("not 300") && !long.contains("secret"), "{long}");
        let http = Proxy::from(HttpProxy::new("proxy:3128").basic_auth("a:b", "p")).validate();
        assert!(http.unwrap_err().contains("cannot contain ':'"));
    }

    #[test]
    fn debug_output_shows_that_credentials_are_set_but_not_which() {
        let http = Proxy::from(HttpProxy::new("proxy:3128").basic_auth("alice", "hunter2"));
        let socks = Proxy::from(Socks5Proxy::new("proxy:1080").credentials("bob", "swordfish"));
        for (proxy, secrets) in [(http, ["alice", "hunter2"]), (socks, ["bob", "swordfish"])] {
            let printed = format!("{proxy:?}");
            assert!(printed.contains("<redacted>"), "{printed}");
            for secret in secrets {
                assert!(!printed.contains(secret), "{printed}");
            }
        }
        assert_eq!(
            format!("{:?}", Socks5Proxy::new("p:1").resolve_at_proxy(true)),
            "Socks5Proxy { address: \"p:1\", credentials: None, resolve_at_proxy: true }"
        );
    }

    #[test]
    fn the_default_is_the_environment() {
        assert_eq!(Proxy::default(), Proxy::FromEnvironment);
    }
}
