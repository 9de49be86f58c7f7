//! A minimal SOCKS5 proxy (RFC 1928 `CONNECT`, RFC 1929 user name and password) on
//! 127.0.0.1:0, recording every session: the methods offered, the credentials sent, and the
//! destination asked for with its address type.
//!
//! [`SocksMode`] picks how it behaves: wanting credentials, refusing every target with a reply
//! code, taking host names only (as a proxy that must resolve them itself), and the type of the
//! bound address in its replies (the client must read each to its exact length).

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream};
use std::sync::{Arc, Mutex};

use super::proxy::{Acceptor, pipe};

/// How the proxy behaves.
#[derive(Clone, Debug)]
pub struct SocksMode {
    /// Wants this user name and password (method 2) instead of no authentication.
    pub credentials: Option<(&'static str, &'static str)>,
    /// Answers every `CONNECT` with this reply code (e.g. 2, not allowed by ruleset) instead of
    /// connecting.
    pub refuse: Option<u8>,
    /// Takes host names only (address type 3), answering 8 (address type not supported) to IP
    /// addresses.
    pub names_only: bool,
    /// The type of the bound address in successful replies: 1 (IPv4), 3 (a name) or 4 (IPv6).
    pub bound_address_type: u8,
}

impl Default for SocksMode {
    fn default() -> SocksMode {
        SocksMode { credentials: None, refuse: None, names_only: false, bound_address_type: 1 }
    }
}

/// What one client did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocksSession {
    /// The authentication methods offered in the greeting.
    pub methods: Vec<u8>,
    /// The user name and password sent, when the client authenticated.
    pub credentials: Option<(String, String)>,
    /// The address type of the `CONNECT` request (1 IPv4, 3 name, 4 IPv6), when it came.
    pub address_type: Option<u8>,
    /// The destination asked for, as `host:port` (an IPv6 host in brackets).
    pub destination: Option<String>,
}

pub struct SocksProxy {
    acceptor: Acceptor,
    sessions: Arc<Mutex<Vec<SocksSession>>>,
}

impl SocksProxy {
    pub fn start(mode: SocksMode) -> SocksProxy {
        let sessions = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&sessions);
        let acceptor = Acceptor::start(move |client| {
            let mut session = SocksSession::default();
            let server = serve(&client, &mode, &mut session);
            log.lock().unwrap().push(session);
            if let Some(server) = server {
                pipe(client, server);
            }
        });
        SocksProxy { acceptor, sessions }
    }

    /// `127.0.0.1:<port>`.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.acceptor.port())
    }

    /// The sessions that ended their handshake so far, in order.
    pub fn sessions(&self) -> Vec<SocksSession> {
        self.sessions.lock().unwrap().clone()
    }
}

/// Runs the proxy's side of one handshake; returns the connection to the destination.
fn serve(client: &TcpStream, mode: &SocksMode, session: &mut SocksSession) -> Option<TcpStream> {
    let read = |length: usize| -> Option<Vec<u8>> {
        let mut buf = vec![0u8; length];
        let mut stream = client;
        stream.read_exact(&mut buf).ok()?;
        Some(buf)
    };
    let write = |bytes: &[u8]| {
        let mut stream = client;
        stream.write_all(bytes).ok()
    };
    let greeting = read(2)?;
    if greeting[0] != 5 {
        return None;
    }
    session.methods = read(usize::from(greeting[1]))?;
    let wanted = if mode.credentials.is_some() { 2 } else { 0 };
    if !session.methods.contains(&wanted) {
        write(&[5, 0xff]);
        return None;
    }
    write(&[5, wanted])?;
    if let Some((user, password)) = mode.credentials {
        let _version = read(1)?;
        let user_length = read(1)?[0];
        let sent_user = String::from_utf8_lossy(&read(usize::from(user_length))?).into_owned();
        let password_length = read(1)?[0];
        let sent_password = String::from_utf8_lossy(&read(usize::from(password_length))?).into_owned();
        let accepted = sent_user == user && sent_password == password;
        session.credentials = Some((sent_user, sent_password));
        write(&[1, if accepted { 0 } else { 1 }])?;
        if !accepted {
            return None;
        }
    }
    let request = read(4)?;
    let host = match request[3] {
        1 => Ipv4Addr::from(<[u8; 4]>::try_from(read(4)?).unwrap()).to_string(),
        4 => format!("[{}]", Ipv6Addr::from(<[u8; 16]>::try_from(read(16)?).unwrap())),
        3 => {
            let length = read(1)?[0];
            String::from_utf8_lossy(&read(usize::from(length))?).into_owned()
        }
        _ => return None,
    };
    let port = read(2)?;
    let port = u16::from_be_bytes([port[0], port[1]]);
    session.address_type = Some(request[3]);
    session.destination = Some(format!("{host}:{port}"));
    let failure = |code: u8| {
        write(&[5, code, 0, 1, 0, 0, 0, 0, 0, 0]);
        None
    };
    if request[1] != 1 {
        return failure(7);
    }
    if let Some(code) = mode.refuse {
        return failure(code);
    }
    if mode.names_only && request[3] != 3 {
        return failure(8);
    }
    let server = match request[3] {
        3 => TcpStream::connect((host.as_str(), port)),
        _ => {
            let ip: IpAddr = host.trim_start_matches('[').trim_end_matches(']').parse().unwrap();
            TcpStream::connect(SocketAddr::new(ip, port))
        }
    };
    let Ok(server) = server else {
        return failure(5);
    };
    let mut reply = vec![5, 0, 0, mode.bound_address_type];
    match mode.bound_address_type {
        1 => reply.extend_from_slice(&[127, 0, 0, 1]),
        4 => reply.extend_from_slice(&Ipv6Addr::LOCALHOST.octets()),
        _ => {
            reply.push(16);
            reply.extend_from_slice(b"bound.socks.test");
        }
    }
    reply.extend_from_slice(&server.local_addr().map(|address| address.port()).unwrap_or(0).to_be_bytes());
    write(&reply)?;
    Some(server)
}
