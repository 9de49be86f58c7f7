//! The byte stream under the WebSocket: plain TCP or TLS over TCP, with a read budget.
//!
//! The connection's reader learns from a `peek` how many bytes the kernel holds, and then lets
//! the WebSocket read exactly that many: past the budget a read returns `WouldBlock` without a
//! system call, so the socket can stay in blocking mode (writers need that) while the reader
//! never blocks with the socket lock held.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;

/// A TCP stream whose reads stop at a budget.
#[derive(Debug)]
pub(crate) struct BudgetedTcp {
    tcp: TcpStream,
    /// Bytes that may still be read; `None` while dialing (reads block, bounded by timeouts).
    budget: Option<usize>,
}

impl BudgetedTcp {
    pub(crate) fn new(tcp: TcpStream) -> BudgetedTcp {
        BudgetedTcp { tcp, budget: None }
    }
}

impl Read for BudgetedTcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.budget {
            None => self.tcp.read(buf),
            Some(0) => Err(ErrorKind::WouldBlock.into()),
            Some(left) => {
                let len = buf.len().min(left);
                let read = self.tcp.read(&mut buf[..len])?;
                self.budget = Some(left - read);
                Ok(read)
            }
        }
    }
}

impl Write for BudgetedTcp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.tcp.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.tcp.flush()
    }
}

/// Plain or TLS (with the TLS backend the crate is built with; see `transport::tls`).
pub(crate) enum Stream {
    Plain(BudgetedTcp),
    #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
    Tls(Box<native_tls::TlsStream<BudgetedTcp>>),
    #[cfg(feature = "rustls")]
    Rustls(Box<rustls::StreamOwned<rustls::ClientConnection, BudgetedTcp>>),
}

impl Stream {
    /// Allows the next reads to take `bytes` from the socket (added to what is left).
    #[allow(clippy::infallible_destructuring_match)] // Without a TLS backend, only Plain is left.
    pub(crate) fn allow_reads(&mut self, bytes: usize) {
        let tcp = match self {
            Stream::Plain(tcp) => tcp,
            #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
            Stream::Tls(tls) => tls.get_mut(),
            #[cfg(feature = "rustls")]
            Stream::Rustls(tls) => &mut tls.sock,
        };
        tcp.budget = Some(tcp.budget.unwrap_or(0).saturating_add(bytes));
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
            Stream::Tls(tls) => tls.read(buf),
            #[cfg(feature = "rustls")]
            Stream::Rustls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
            Stream::Tls(tls) => tls.write(buf),
            #[cfg(feature = "rustls")]
            Stream::Rustls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            #[cfg(all(feature = "native-tls", not(feature = "rustls")))]
            Stream::Tls(tls) => tls.flush(),
            #[cfg(feature = "rustls")]
            Stream::Rustls(tls) => tls.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::net::TcpListener;

    use super::*;

    #[test]
    fn reads_stop_at_the_budget_without_blocking() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut writer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (reader, _) = listener.accept().unwrap();
        writer.write_all(b"hello world").unwrap();
        let mut stream = Stream::Plain(BudgetedTcp::new(reader));
        stream.allow_reads(5);
        let mut buf = [0u8; 64];
        let mut got = Vec::new();
        loop {
            match stream.read(&mut buf) {
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(err) => {
                    assert_eq!(err.kind(), ErrorKind::WouldBlock);
                    break;
                }
            }
        }
        assert_eq!(got, b"hello", "exactly the budget, then WouldBlock although more bytes wait");
        stream.allow_reads(6);
        let mut rest = [0u8; 6];
        stream.read_exact(&mut rest).unwrap();
        assert_eq!(&rest, b" world");
    }
}
