//! HTTP-streaming and SSE connections: a stream read by the connection thread, commands sent
//! as emulation requests by a writer thread.
//!
//! ```text
//!   core / callers ──send(frame)──▶ EmulatedLink queue ──▶ writer thread (centrifuge-emul-<n>)
//!        ▲                          (first frame: the          POST /emulation {node, session,
//!        │                           connect command)          data}, one at a time, in order
//!        │                                │
//!   delivery ◀── connection thread ◀── stream: POST /connection/http_stream (body: connect)
//!   (replies)    (reads, decodes)         or GET /connection/sse?cf_connect=…; replies stream
//!                                         back as the response body
//! ```
//!
//! - The core writes the connect command first, as on WebSocket. It becomes the stream
//!   request (the HTTP-streaming POST body, or SSE's `cf_connect` query parameter); whatever
//!   came with it in the same frame (subscribes) waits for the emulation writer.
//! - The emulation writer waits for the connect result's `node` and `session` (the reader sees
//!   them first), then sends the queued frames, merged, one request at a time and waiting for
//!   its status: the server handles concurrent emulation requests in any order, and answers
//!   only after the commands were handled, so sending them one by one keeps their order. Its
//!   connection is reused while the server keeps it (Centrifugo closes idle ones after 30 s).
//! - Any failure of an emulation request (a status other than 2xx, a broken connection) ends
//!   the whole connection: the calls it carried cannot be known to have arrived. The reader
//!   reports the end with that error.
//! - The stream's end: the server's disconnect push (handled by the core like a close frame),
//!   then the last chunk; or a cut connection. Undecodable data before the first message (a
//!   captive portal's page, a proxy's answer) is a transport error, and the client retries;
//!   after it, a protocol violation.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use parking_lot::{Condvar, Mutex};

use super::super::TransportEvent;
use super::super::call::{CallRoute, Link};
use super::super::delivery::Delivery;
use super::ConnectionParts;
use crate::codec::{Frame, FrameKind};
use crate::config::Protocol;
use crate::error::TransportError;
use crate::protocol::Reply;
use crate::transport::http::messages::{Framing, MessageCutter};
use crate::transport::http::{self, Head, Request};
use crate::transport::{
    Connected, DialBudget, DialControl, Endpoint, Route, Target, TransportConfig, open_stream,
};
use crate::transports::TransportKind;

/// How many bytes of commands one emulation request carries at most (more wait for the next
/// one). Centrifugo takes request bodies of up to 64 KiB, and JSON data grows when escaped.
const EMULATION_BATCH: usize = 16 * 1024;

/// How long an idle emulation connection is reused: Centrifugo closes idle ones after 30 s.
const EMULATION_IDLE: Duration = Duration::from_secs(25);

/// How long the server may take to answer an emulation request beyond the client's timeout: it
/// answers once the commands are handled, and waits up to 10 s for another node to do so.
const EMULATION_SURVEY: Duration = Duration::from_secs(10);

/// How many bytes the stream is read by at a time.
const READ_CHUNK: usize = 16 * 1024;

/// The connection as the core and the callers see it: frames go into its queue.
struct EmulatedLink {
    /// The stream's socket: shut down to stop the reader.
    stream_tcp: TcpStream,
    queue: Mutex<Queue>,
    changed: Condvar,
    /// Set by `close`.
    closing: AtomicBool,
    /// Cancels the emulation writer's dial, or shuts its connection down.
    emulation_control: DialControl,
}

#[derive(Default)]
struct Queue {
    /// The first frame the core sent (the connect command, maybe with subscribes), until the
    /// connection thread takes it.
    first: Option<Bytes>,
    first_taken: bool,
    /// Frames waiting for the writer, in order.
    frames: VecDeque<Bytes>,
    /// From the connect result: where emulation requests go.
    session: Option<Session>,
    /// Why the writer gave up, for the reader's report.
    failure: Option<TransportError>,
}

#[derive(Clone, Debug)]
struct Session {
    node: String,
    session: String,
}

impl EmulatedLink {
    /// Waits for the first frame the core sends; `None` once closed.
    fn first_frame(&self) -> Option<Bytes> {
        let mut queue = self.queue.lock();
        loop {
            if self.closing.load(Ordering::Acquire) {
                return None;
            }
            if let Some(first) = queue.first.take() {
                queue.first_taken = true;
                return Some(first);
            }
            self.changed.wait(&mut queue);
        }
    }

    /// What was sent with the connect command goes first to the writer.
    fn requeue_front(&self, rest: Bytes) {
        if !rest.is_empty() {
            self.queue.lock().frames.push_front(rest);
            self.changed.notify_all();
        }
    }

    fn set_session(&self, session: Session) {
        self.queue.lock().session = Some(session);
        self.changed.notify_all();
    }

    /// Waits for frames to send and the session to send them with; returns them merged into one
    /// request's data, or `None` once closed.
    fn next_batch(&self, kind: FrameKind) -> Option<(Session, Bytes)> {
        let mut queue = self.queue.lock();
        loop {
            if self.closing.load(Ordering::Acquire) {
                return None;
            }
            if let Some(session) = queue.session.clone().filter(|_| !queue.frames.is_empty()) {
                let mut data = BytesMut::new();
                while let Some(frame) = queue.frames.front() {
                    if !data.is_empty() && data.len() + 1 + frame.len() > EMULATION_BATCH {
                        break;
                    }
                    if !data.is_empty() && kind == FrameKind::Text {
                        data.extend_from_slice(b"\n");
                    }
                    data.extend_from_slice(frame);
                    queue.frames.pop_front();
                }
                return Some((session, data.freeze()));
            }
            self.changed.wait(&mut queue);
        }
    }

    /// Ends the connection because of `error` (reported by the reader).
    fn fail(&self, error: TransportError) {
        self.queue.lock().failure.get_or_insert(error);
        self.close();
    }

    fn failure(&self) -> Option<TransportError> {
        self.queue.lock().failure.take()
    }
}

impl Link for EmulatedLink {
    fn send(&self, frame: Frame) -> Result<(), TransportError> {
        if self.closing.load(Ordering::Acquire) {
            return Err(TransportError::new("the connection is closed"));
        }
        let mut queue = self.queue.lock();
        if !queue.first_taken && queue.first.is_none() {
            queue.first = Some(frame.data);
        } else {
            queue.frames.push_back(frame.data);
        }
        drop(queue);
        self.changed.notify_all();
        Ok(())
    }

    /// The connection thread always reads the stream itself.
    fn read_for_caller(&self, _route: &CallRoute, _deadline: Instant, _answered: &dyn Fn() -> bool) {}

    fn close(&self) {
        self.closing.store(true, Ordering::Release);
        let _ = self.stream_tcp.shutdown(Shutdown::Both);
        self.emulation_control.cancel();
        self.changed.notify_all();
    }
}

/// Dials the stream, reports the connection, sends the stream request once the core gave the
/// connect command, and reads until the end; returns how it ended.
pub(super) fn dial_and_read(
    parts: &ConnectionParts,
    route: &Route,
    delivery: Delivery,
    opened: &OnceLock<Arc<dyn Link>>,
) -> TransportEvent {
    let config = &parts.config;
    let budget = DialBudget::start(config.connect_timeout());
    let Connected { stream, tcp } =
        match open_stream(config, &Target::of(&route.endpoint), &parts.control, &budget) {
            Ok(connected) => connected,
            Err(error) => return TransportEvent::DialFailed(error),
        };
    let stream_tcp = match tcp.try_clone() {
        Ok(clone) => clone,
        Err(err) => {
            return TransportEvent::DialFailed(TransportError::with_source("cannot clone the socket", err));
        }
    };
    let link = Arc::new(EmulatedLink {
        stream_tcp,
        queue: Mutex::new(Queue::default()),
        changed: Condvar::new(),
        closing: AtomicBool::new(false),
        emulation_control: DialControl::default(),
    });
    let _ = opened.set(Arc::clone(&link) as Arc<dyn Link>);
    delivery.report(TransportEvent::Opened(Arc::clone(&link) as Arc<dyn Link>));

    let kind = delivery.codec.frame(Bytes::new()).kind;
    let Some(first) = link.first_frame() else {
        return TransportEvent::Closed { close: None, error: None };
    };
    let (connect, rest) = split_first_message(kind, first);
    link.requeue_front(rest);
    let writer = match spawn_writer(parts, route, &link, kind) {
        Ok(writer) => writer,
        Err(error) => return TransportEvent::Closed { close: None, error: Some(error) },
    };
    let _writer = WriterGuard { link: Arc::clone(&link), thread: Some(writer) };
    let mut reader =
        StreamReader { stream, tcp, link: &link, route: &parts.route, delivery, seen_message: false };
    let end = reader.run(config, route, &connect);
    match end {
        // The writer's failure is the better explanation of a stream cut short.
        TransportEvent::Closed { close, error: Some(error) } => {
            TransportEvent::Closed { close, error: Some(link.failure().unwrap_or(error)) }
        }
        other => other,
    }
}

/// Closes the link and joins the writer, however the reader ended.
struct WriterGuard {
    link: Arc<EmulatedLink>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for WriterGuard {
    fn drop(&mut self) {
        self.link.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The first protocol message of a frame, and the rest.
fn split_first_message(kind: FrameKind, frame: Bytes) -> (Bytes, Bytes) {
    let end = match kind {
        FrameKind::Text => memchr::memchr(b'\n', &frame).map_or(frame.len(), |at| at + 1),
        FrameKind::Binary => varint_message_end(&frame).unwrap_or(frame.len()),
    };
    let mut first = frame;
    let rest = first.split_off(end);
    if kind == FrameKind::Text && first.ends_with(b"\n") {
        first.truncate(first.len() - 1);
    }
    (first, rest)
}

/// Where the first length-prefixed message of `frame` ends.
fn varint_message_end(frame: &[u8]) -> Option<usize> {
    let mut length = 0usize;
    for (index, &byte) in frame.iter().enumerate().take(10) {
        length |= usize::from(byte & 0x7f) << (7 * index);
        if byte & 0x80 == 0 {
            return Some((index + 1).saturating_add(length).min(frame.len()));
        }
    }
    None
}

/// Reads the stream: the response head, then the body's messages, until the end.
struct StreamReader<'a> {
    stream: crate::transport::Stream,
    tcp: TcpStream,
    link: &'a EmulatedLink,
    route: &'a CallRoute,
    delivery: Delivery,
    /// A message has been decoded: from now on undecodable data is a protocol violation.
    seen_message: bool,
}

impl StreamReader<'_> {
    fn run(&mut self, config: &TransportConfig, route: &Route, connect: &[u8]) -> TransportEvent {
        let step = format!("waiting for the {} response", route.kind);
        let head = match self.request(config, route, connect).and_then(|()| {
            // From now on reads wait as long as the stream lasts: the core's deadline for the
            // connect reply closes the socket if the answer never comes.
            self.tcp
                .set_read_timeout(None)
                .map_err(|err| TransportError::with_source("cannot clear the read timeout", err))?;
            http::read_head(&mut self.stream, None, &step)
        }) {
            Ok(head) => head,
            Err(error) => return self.closed(error),
        };
        if let Err(error) = check_head(route.kind, &head) {
            return self.closed(error);
        }
        self.read_body(config, route.kind, head)
    }

    /// Writes the stream request carrying the connect command.
    fn request(
        &mut self,
        config: &TransportConfig,
        route: &Route,
        connect: &[u8],
    ) -> Result<(), TransportError> {
        let json = config.protocol() == Protocol::Json;
        let endpoint = &route.endpoint;
        let sse_target;
        let request = match route.kind {
            TransportKind::Sse => {
                let query = percent_encode(connect);
                let path = endpoint.path_and_query();
                let separator = if path.contains('?') { '&' } else { '?' };
                sse_target = format!("{path}{separator}cf_connect={query}");
                Request {
                    method: "GET",
                    target: &sse_target,
                    host: endpoint.authority(),
                    transport_headers: &[("Accept", "text/event-stream")],
                    headers: config.headers(),
                    body: b"",
                }
            }
            _ => Request {
                method: "POST",
                target: endpoint.path_and_query(),
                host: endpoint.authority(),
                transport_headers: &[("Content-Type", content_type(json)), ("Accept", content_type(json))],
                headers: config.headers(),
                body: connect,
            },
        };
        let bytes = request.encode()?;
        self.stream.write_all(&bytes).and_then(|()| self.stream.flush()).map_err(|err| {
            TransportError::with_source(format!("cannot send the {} request", route.kind), err)
        })
    }

    fn read_body(&mut self, config: &TransportConfig, kind: TransportKind, mut head: Head) -> TransportEvent {
        let framing = match (kind, config.protocol()) {
            (TransportKind::Sse, _) => Framing::ServerSentEvents,
            (_, Protocol::Json) => Framing::JsonLines,
            (_, Protocol::Protobuf) => Framing::Varints,
        };
        let mut cutter = MessageCutter::new(framing, config.max_message_size());
        let mut input = std::mem::take(&mut head.rest);
        let mut body = Vec::with_capacity(READ_CHUNK);
        let mut buffer = vec![0u8; READ_CHUNK];
        loop {
            body.clear();
            if let Err(error) = head.body.feed(&input, &mut body) {
                return self.undecodable(error.to_string());
            }
            match cutter.push(&body) {
                Ok(Some(messages)) => {
                    if let Err(end) = self.deliver(messages) {
                        return end;
                    }
                }
                Ok(None) => {}
                Err(error) => return self.undecodable(error.to_string()),
            }
            if head.body.is_done() {
                return TransportEvent::Closed { close: None, error: None };
            }
            self.delivery.backlog.wait_for_room(|| self.link.closing.load(Ordering::Acquire));
            let read = match self.stream.read(&mut buffer) {
                Ok(read) => read,
                Err(err) => return self.closed(TransportError::with_source("read failed", err)),
            };
            if read == 0 {
                let clean = matches!(head.body, http::Body::UntilClose) && cutter.pending() == 0;
                let error = (!clean).then(|| TransportError::new("the stream ended before its end"));
                return TransportEvent::Closed { close: None, error };
            }
            input.clear();
            input.extend_from_slice(&buffer[..read]);
        }
    }

    /// Decodes complete messages and delivers them; notes the session of a connect result.
    fn deliver(&mut self, messages: Bytes) -> Result<(), TransportEvent> {
        let frame = self.delivery.codec.frame(messages);
        let (replies, bytes) = match self.delivery.decode(&frame) {
            Ok(decoded) => decoded,
            Err(error) => return Err(self.undecodable(error.to_string())),
        };
        self.seen_message = true;
        if let Some(session) = replies.iter().find_map(session_of) {
            self.link.set_session(session);
        }
        self.delivery.deliver(replies, bytes, self.route);
        Ok(())
    }

    /// Data that does not decode: before the first message (a portal's page, a proxy's
    /// answer), a transport error the client retries; after it, a protocol violation.
    fn undecodable(&self, what: String) -> TransportEvent {
        if self.seen_message {
            TransportEvent::ProtocolError(what)
        } else {
            TransportEvent::Closed {
                close: None,
                error: Some(TransportError::new(format!("the stream does not carry the protocol: {what}"))),
            }
        }
    }

    fn closed(&self, error: TransportError) -> TransportEvent {
        TransportEvent::Closed { close: None, error: Some(error) }
    }
}

/// The `node` and `session` of a successful connect result.
fn session_of(reply: &Reply) -> Option<Session> {
    let connect = reply.connect.as_deref()?;
    Some(Session { node: connect.node.clone(), session: connect.session.clone() })
}

/// A stream response that is not a stream: name the status, and say what it likely is. Never
/// the URL: its query may carry the connect command with a token.
fn check_head(kind: TransportKind, head: &Head) -> Result<(), TransportError> {
    let portal = "a captive portal or a proxy may be in the way";
    if (300..400).contains(&head.status) {
        return Err(TransportError::new(format!(
            "the {kind} request was redirected (HTTP {}): {portal}",
            head.status
        )));
    }
    if !head.is_success() {
        return Err(TransportError::new(format!("the {kind} request was refused with HTTP {}", head.status)));
    }
    if head.is_html() {
        return Err(TransportError::new(format!(
            "the {kind} request was answered with an HTML page (HTTP {}), not a stream: {portal}",
            head.status
        )));
    }
    if kind == TransportKind::Sse
        && !head
            .content_type()
            .is_some_and(|value| value.to_ascii_lowercase().starts_with("text/event-stream"))
    {
        return Err(TransportError::new(format!(
            "the SSE request was answered with {:?} instead of an event stream",
            head.content_type().unwrap_or("no content type")
        )));
    }
    Ok(())
}

fn content_type(json: bool) -> &'static str {
    // Centrifugo takes Protobuf only for exactly this value, parameters included.
    if json { "application/json" } else { "application/octet-stream" }
}

/// Percent-encodes everything but unreserved characters, for a query parameter.
fn percent_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for &byte in bytes {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Spawns the emulation writer of `link`.
fn spawn_writer(
    parts: &ConnectionParts,
    route: &Route,
    link: &Arc<EmulatedLink>,
    kind: FrameKind,
) -> Result<JoinHandle<()>, TransportError> {
    let mut writer = EmulationWriter {
        config: Arc::clone(&parts.config),
        endpoint: route.emulation.clone(),
        link: Arc::clone(link),
        json: kind == FrameKind::Text,
        connection: None,
    };
    super::super::spawn(format!("centrifuge-emul-{}", parts.generation), move || writer.run())
        .map_err(|err| TransportError::new(format!("cannot start the emulation writer: {err}")))
}

/// Sends the queued commands as emulation requests; see the module docs.
struct EmulationWriter {
    config: Arc<TransportConfig>,
    endpoint: Endpoint,
    link: Arc<EmulatedLink>,
    json: bool,
    /// The kept-alive connection and when it was last used.
    connection: Option<(Connected, Instant)>,
}

impl EmulationWriter {
    fn run(&mut self) {
        let kind = if self.json { FrameKind::Text } else { FrameKind::Binary };
        while let Some((session, data)) = self.link.next_batch(kind) {
            let body = match self.body(&session, &data) {
                Ok(body) => body,
                Err(error) => {
                    self.link.fail(error);
                    return;
                }
            };
            if let Err(error) = self.post(&body) {
                if !self.link.closing.load(Ordering::Acquire) {
                    self.link.fail(error);
                }
                return;
            }
        }
    }

    /// The request body: `EmulationRequest` in the connection's format (JSON with `data` as a
    /// string holding the commands' text, as Centrifugo expects it).
    fn body(&self, session: &Session, data: &Bytes) -> Result<Vec<u8>, TransportError> {
        if self.json {
            #[derive(serde::Serialize)]
            struct JsonEmulation<'a> {
                node: &'a str,
                session: &'a str,
                data: &'a str,
            }
            let data =
                std::str::from_utf8(data).map_err(|_| TransportError::new("JSON commands are not UTF-8"))?;
            serde_json::to_vec(&JsonEmulation { node: &session.node, session: &session.session, data })
                .map_err(|err| TransportError::new(format!("cannot encode an emulation request: {err}")))
        } else {
            use prost::Message as _;
            let request = crate::protocol::EmulationRequest {
                node: session.node.clone(),
                session: session.session.clone(),
                data: data.clone(),
            };
            Ok(request.encode_to_vec())
        }
    }

    /// One emulation request, on the kept connection or a new one. A kept connection that
    /// fails before any answer may have been closed by the server while idle: the request is
    /// sent once more on a new one (the server never read it).
    fn post(&mut self, body: &[u8]) -> Result<(), TransportError> {
        let reused = self.connection.take().filter(|(_, used)| used.elapsed() < EMULATION_IDLE);
        let fresh_retry = reused.is_some();
        let connected = match reused {
            Some((connected, _)) => connected,
            None => self.dial()?,
        };
        match self.exchange(connected, body) {
            Ok(()) => Ok(()),
            Err(Exchange::Unanswered(_)) if fresh_retry => {
                let connected = self.dial()?;
                self.exchange(connected, body).map_err(Exchange::into_error)
            }
            Err(failure) => Err(failure.into_error()),
        }
    }

    fn dial(&self) -> Result<Connected, TransportError> {
        let budget = DialBudget::start(self.config.connect_timeout());
        let connected =
            open_stream(&self.config, &Target::of(&self.endpoint), &self.link.emulation_control, &budget)
                .map_err(|error| TransportError::new(format!("emulation endpoint: {error}")))?;
        let answer_within = self.config.write_timeout() + EMULATION_SURVEY;
        connected
            .tcp
            .set_read_timeout(Some(answer_within))
            .and_then(|()| connected.tcp.set_write_timeout(Some(self.config.write_timeout())))
            .map_err(|err| {
                TransportError::with_source("cannot set the emulation connection's timeouts", err)
            })?;
        Ok(connected)
    }

    /// Sends one request on `connected` and reads its answer; keeps the connection when the
    /// server does.
    fn exchange(&mut self, mut connected: Connected, body: &[u8]) -> Result<(), Exchange> {
        let request = Request {
            method: "POST",
            target: self.endpoint.path_and_query(),
            host: self.endpoint.authority(),
            transport_headers: &[("Content-Type", content_type(self.json))],
            headers: self.config.headers(),
            body,
        };
        let bytes = request.encode().map_err(Exchange::Failed)?;
        connected.stream.write_all(&bytes).and_then(|()| connected.stream.flush()).map_err(|err| {
            Exchange::Unanswered(TransportError::with_source("emulation request: write failed", err))
        })?;
        let mut head =
            match http::read_head(&mut connected.stream, None, "waiting for the emulation response") {
                Ok(head) => head,
                Err(error) => return Err(Exchange::Unanswered(error)),
            };
        if !head.is_success() {
            return Err(Exchange::Failed(TransportError::new(format!(
                "an emulation request was refused with HTTP {}",
                head.status
            ))));
        }
        let keep = !head.asks_to_close()
            && !matches!(head.body, http::Body::UntilClose)
            && self.drain_body(&mut connected, &mut head);
        if keep {
            self.connection = Some((connected, Instant::now()));
        }
        Ok(())
    }

    /// Reads the (normally empty) answer body; whether the connection can carry another request.
    fn drain_body(&self, connected: &mut Connected, head: &mut Head) -> bool {
        let mut sink = Vec::new();
        let mut input = std::mem::take(&mut head.rest);
        let mut buffer = [0u8; 1024];
        loop {
            sink.clear();
            match head.body.feed(&input, &mut sink) {
                Ok(used) if head.body.is_done() => return used == input.len(),
                Ok(_) => {}
                Err(_) => return false,
            }
            match connected.stream.read(&mut buffer) {
                Ok(0) | Err(_) => return false,
                Ok(read) => {
                    input.clear();
                    input.extend_from_slice(&buffer[..read]);
                }
            }
        }
    }
}

/// How an emulation request failed.
enum Exchange {
    /// No answer came: on a kept connection, the server may have closed it while idle.
    Unanswered(TransportError),
    /// Answered with an error, or failed for good.
    Failed(TransportError),
}

impl Exchange {
    fn into_error(self) -> TransportError {
        match self {
            Exchange::Unanswered(error) | Exchange::Failed(error) => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connect_command_is_split_from_what_came_with_it() {
        let (first, rest) =
            split_first_message(FrameKind::Text, Bytes::from_static(b"{\"id\":1}\n{\"id\":2}"));
        assert_eq!((&first[..], &rest[..]), (&b"{\"id\":1}"[..], &b"{\"id\":2}"[..]));
        let (first, rest) = split_first_message(FrameKind::Text, Bytes::from_static(b"{\"id\":1}"));
        assert_eq!((&first[..], rest.len()), (&b"{\"id\":1}"[..], 0));
        let (first, rest) = split_first_message(FrameKind::Binary, Bytes::from_static(&[2, 8, 1, 0, 1, 9]));
        assert_eq!((&first[..], &rest[..]), (&[2, 8, 1][..], &[0, 1, 9][..]));
    }

    #[test]
    fn the_sse_connect_parameter_is_percent_encoded() {
        assert_eq!(
            percent_encode(b"{\"id\":1, \"a\":\"b&c\"}"),
            "%7B%22id%22%3A1%2C%20%22a%22%3A%22b%26c%22%7D"
        );
        assert_eq!(percent_encode(b"az-._~09"), "az-._~09");
    }

    #[test]
    fn answers_that_are_not_streams_say_what_they_are() {
        let head = |raw: &[u8]| http::parse_head(raw, "test").unwrap().unwrap();
        let portal = check_head(
            TransportKind::HttpStream,
            &head(b"HTTP/1.1 302 Found\r\nLocation: http://portal/?token=secret\r\n\r\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            portal.contains("HTTP 302") && portal.contains("captive portal") && !portal.contains("secret"),
            "{portal}"
        );
        let html = check_head(
            TransportKind::HttpStream,
            &head(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"),
        )
        .unwrap_err()
        .to_string();
        assert!(html.contains("HTML page (HTTP 200)"), "{html}");
        let refused =
            check_head(TransportKind::Sse, &head(b"HTTP/1.1 404 Not Found\r\n\r\n")).unwrap_err().to_string();
        assert!(refused.contains("SSE request was refused with HTTP 404"), "{refused}");
        let not_sse =
            check_head(TransportKind::Sse, &head(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n"))
                .unwrap_err()
                .to_string();
        assert!(not_sse.contains("instead of an event stream"), "{not_sse}");
        assert!(
            check_head(
                TransportKind::Sse,
                &head(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream; charset=utf-8\r\n\r\n")
            )
            .is_ok()
        );
    }
}
