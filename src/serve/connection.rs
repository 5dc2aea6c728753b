//! One client connection: a reader of request lines, a writer of response lines, and the
//! requests it has in flight (for `cancel`, and to cancel them all when the client goes).
//!
//! No client can slow down another: responses go through a bounded queue per connection; a
//! stream event that finds the queue full, or a write that does not finish within the write
//! timeout, means the client stopped reading, and the connection is closed with its
//! requests canceled (their engine slots freed for everyone else).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::UnixStream;
use tokio::net::unix::OwnedWriteHalf;
use tokio::sync::{OwnedSemaphorePermit, mpsc};
use tokio_util::codec::FramedRead;
use tokio_util::sync::CancellationToken;

use super::Shared;
use super::framing::{Line, LineCodec};
use super::protocol::{Envelope, ErrorCode, classify, error_line};

/// Responses and stream events queued for one client; a client this far behind is dropped.
pub const OUTBOX: usize = 1024;

/// What the reader, the writer and the requests of one connection share.
#[derive(Default)]
struct Conn {
    /// Cancel flags of the requests in flight, by id.
    pending: Mutex<HashMap<String, Arc<AtomicBool>>>,
    /// Set when the client went away or was dropped for not reading.
    closed: CancellationToken,
}

impl Conn {
    fn close(&self) {
        self.closed.cancel();
        for f in self.pending.lock().unwrap_or_else(|p| p.into_inner()).values() {
            f.store(true, Ordering::SeqCst);
        }
    }
}

/// The sending side of a connection, cloned into every request it has in flight.
#[derive(Clone)]
pub struct Outbox {
    tx: mpsc::Sender<Value>,
    conn: Arc<Conn>,
}

impl Outbox {
    /// A final response; waits for room (bounded by the writer's timeout).
    pub async fn reply(&self, v: Value) {
        let _ = self.tx.send(v).await;
    }

    /// A final response without waiting (from code that cannot await); false if it could
    /// not be queued.
    pub fn try_reply(&self, v: Value) -> bool {
        self.tx.try_send(v).is_ok()
    }

    /// A stream event. A full queue means the client stopped reading: it is dropped.
    pub fn event(&self, v: Value) -> bool {
        match self.tx.try_send(v) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                eprintln!("fgbench serve: dropping a client that stopped reading ({OUTBOX} responses queued)");
                self.conn.close();
                false
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }

    /// True once the client is gone.
    pub fn is_closed(&self) -> bool {
        self.conn.closed.is_cancelled()
    }

    /// Registers a request's cancel flag under its id; false when that id is in flight.
    pub fn register(&self, key: &str, flag: Arc<AtomicBool>) -> bool {
        let mut p = self.conn.pending.lock().unwrap_or_else(|p| p.into_inner());
        if p.contains_key(key) {
            return false;
        }
        if self.is_closed() {
            flag.store(true, Ordering::SeqCst);
        }
        p.insert(key.to_string(), flag);
        true
    }

    pub fn unregister(&self, key: &str) {
        self.conn.pending.lock().unwrap_or_else(|p| p.into_inner()).remove(key);
    }

    /// Cancels the request with this id; false when none is in flight.
    pub fn cancel(&self, key: &str) -> bool {
        match self.conn.pending.lock().unwrap_or_else(|p| p.into_inner()).get(key) {
            Some(f) => {
                f.store(true, Ordering::SeqCst);
                true
            }
            None => false,
        }
    }
}

/// Serves one connection until the client closes it and every request is answered, or the
/// client is dropped. `permit` is its place under --max-connections.
pub async fn serve_connection(stream: UnixStream, shared: Arc<Shared>, permit: OwnedSemaphorePermit) {
    let (rd, wr) = stream.into_split();
    let (tx, rx) = mpsc::channel::<Value>(OUTBOX);
    let conn = Arc::new(Conn::default());
    let outbox = Outbox { tx, conn: conn.clone() };
    let writer = tokio::spawn(write_loop(wr, rx, conn.clone(), shared.cfg.write_timeout, permit));
    let mut lines = FramedRead::new(rd, LineCodec::new(shared.cfg.max_line));
    loop {
        let line = tokio::select! {
            l = lines.next() => l,
            _ = conn.closed.cancelled() => break,
        };
        let text = match line {
            None | Some(Err(_)) => break,
            Some(Ok(Line::TooLong)) => {
                outbox
                    .reply(error_line(None, ErrorCode::LineTooLong, &format!("request line longer than {} bytes", shared.cfg.max_line)))
                    .await;
                continue;
            }
            Some(Ok(Line::NotUtf8)) => {
                outbox.reply(error_line(None, ErrorCode::InvalidUtf8, "request line is not valid UTF-8")).await;
                continue;
            }
            Some(Ok(Line::Text(t))) => t,
        };
        if text.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Envelope>(&text) {
            Ok(Envelope { id, request }) => super::dispatch::dispatch(id, request, &shared, &outbox).await,
            Err(_) => {
                let (code, message, id) = classify(&text);
                outbox.reply(error_line(id.as_ref(), code, &message)).await;
            }
        }
    }
    // End of input: requests already sent still get their answers; the writer ends when
    // the last of them drops its outbox.
    drop(outbox);
    let _ = writer.await;
}

async fn write_loop(
    mut wr: OwnedWriteHalf,
    mut rx: mpsc::Receiver<Value>,
    conn: Arc<Conn>,
    timeout: Duration,
    _permit: OwnedSemaphorePermit,
) {
    loop {
        let v = tokio::select! {
            v = rx.recv() => v,
            _ = conn.closed.cancelled() => None,
        };
        let Some(v) = v else { break };
        let mut line = serde_json::to_vec(&v).unwrap_or_default();
        line.push(b'\n');
        match tokio::time::timeout(timeout, wr.write_all(&line)).await {
            Ok(Ok(())) => {}
            Ok(Err(_)) => {
                // The client went away: free its work.
                conn.close();
                break;
            }
            Err(_) => {
                eprintln!("fgbench serve: dropping a client that stopped reading (a write took over {timeout:?})");
                conn.close();
                break;
            }
        }
    }
    let _ = wr.shutdown().await;
}
