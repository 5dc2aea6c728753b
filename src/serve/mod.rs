//! `fgbench serve`: loaded models behind a Unix domain socket, newline-delimited JSON
//! (docs/protocol.md). The same engines, codec and scorer as `eval`, so a live answer equals
//! the batch one under greedy decoding. It runs for hours next to code that sends it
//! anything, so no request, client or crash may wedge it, leak into it or escape its policy.
//!
//! - [`socket`]: the socket file (owner-only from the first moment; a stale one replaced);
//! - [`connection`]: one client: request lines in ([`framing`]), responses out, a client that
//!   stops reading dropped;
//! - [`dispatch`]: what each request does; [`policy`]: what a `load` may name;
//! - [`work`]: generations and loads, admitted under `--max-queue` and answered exactly once
//!   by a guard that also undoes their bookkeeping;
//! - [`stats`]: what `stats` reports;
//! - here: the accept loop and the shutdown (drain, cancel, free the engines off the runtime).

pub mod client;
mod connection;
mod dispatch;
mod framing;
pub mod policy;
pub mod protocol;
pub mod socket;
mod stats;
mod work;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::dataset::Dataset;
use crate::engine::{Engine, GenerationSettings};
use crate::prompt::PromptStyle;
use crate::score::ScoreOptions;
use protocol::{ErrorCode, PROTOCOL, error_line};

/// A model the server holds.
pub struct LoadedModel {
    pub engine: Arc<dyn Engine>,
    /// What `models` shows: source, path, hashes, engine info.
    pub description: Value,
}

/// Loads a model by source; `engine` and `adapter` as a `load` request gives them, and
/// whether hub ids must come from the cache only.
pub type Loader = dyn Fn(&str, Option<&str>, Option<&str>, bool) -> Result<LoadedModel, String> + Send + Sync;

pub struct ServeConfig {
    pub socket: PathBuf,
    /// Requests accepted at once (running or waiting for the engine, loads included, a
    /// `compare` once per model); beyond: `busy`.
    pub max_queue: usize,
    /// Clients connected at once; beyond, a new one gets `busy` and is closed.
    pub max_connections: usize,
    pub max_line: usize,
    /// How long a shutdown waits for requests in flight before canceling them.
    pub drain: Duration,
    /// A response write that takes longer means the client stopped reading.
    pub write_timeout: Duration,
    pub generation: GenerationSettings,
    pub style: PromptStyle,
    pub scoring: ScoreOptions,
    pub dataset: Option<Dataset>,
    pub policy: policy::LoadPolicy,
    /// May a client stop the server with `shutdown`?
    pub allow_shutdown: bool,
}

/// What every connection and request of the server shares.
pub struct Shared {
    cfg: ServeConfig,
    loader: Box<Loader>,
    models: RwLock<HashMap<String, Arc<LoadedModel>>>,
    permits: Arc<Semaphore>,
    connections: Arc<Semaphore>,
    stats: stats::Stats,
    /// Cancel flags of every running request (a shutdown past its deadline sets them all).
    running: Mutex<HashMap<u64, Arc<AtomicBool>>>,
    next_key: AtomicU64,
    shutdown: CancellationToken,
    /// Work and engine teardown, waited for before the server returns.
    tracker: TaskTracker,
}

impl Shared {
    /// Frees a model's engine on a blocking thread, outside every lock and off the
    /// runtime's workers (a mistral.rs engine owns a runtime of its own).
    fn retire(&self, model: Arc<LoadedModel>) {
        self.tracker.spawn_blocking(move || drop(model));
    }

    fn in_flight(&self) -> usize {
        self.stats.in_flight.load(Ordering::SeqCst)
    }
}

/// Runs the server until SIGINT, SIGTERM or an allowed `shutdown` request; then drains,
/// cancels what is left, frees the engines and removes the socket file.
pub async fn serve(cfg: ServeConfig, loader: Box<Loader>, initial: Vec<(String, LoadedModel)>) -> Result<(), socket::SocketError> {
    let bound = socket::bind(&cfg.socket)?;
    let shared = Arc::new(Shared {
        permits: Arc::new(Semaphore::new(cfg.max_queue.max(1))),
        connections: Arc::new(Semaphore::new(cfg.max_connections.max(1))),
        models: RwLock::new(initial.into_iter().map(|(n, m)| (n, Arc::new(m))).collect()),
        cfg,
        loader,
        stats: stats::Stats::default(),
        running: Mutex::new(HashMap::new()),
        next_key: AtomicU64::new(0),
        shutdown: CancellationToken::new(),
        tracker: TaskTracker::new(),
    });
    eprintln!("fgbench serve: listening on {} ({})", shared.cfg.socket.display(), PROTOCOL);
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        tokio::select! {
            accepted = bound.listener.accept() => match accepted {
                Ok((stream, _)) => accept(stream, &shared),
                // Out of file descriptors and the like: wait a moment instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            },
            _ = tokio::signal::ctrl_c() => break,
            _ = async { match sigterm.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => break,
            _ = shared.shutdown.cancelled() => break,
        }
    }
    shared.shutdown.cancel();
    bound.remove_if_ours();
    drain(&shared).await;
    // Free the engines on blocking threads and wait for every task the server started.
    let models: Vec<Arc<LoadedModel>> = shared.models.write().unwrap_or_else(|p| p.into_inner()).drain().map(|(_, m)| m).collect();
    for m in models {
        shared.retire(m);
    }
    shared.tracker.close();
    if tokio::time::timeout(Duration::from_secs(30), shared.tracker.wait()).await.is_err() {
        eprintln!("fgbench serve: some work did not finish within 30 s of the end of the drain");
    }
    // Give writers a moment to flush the last responses.
    tokio::time::sleep(Duration::from_millis(50)).await;
    eprintln!("fgbench serve: stopped after {} request(s)", shared.stats.served.load(Ordering::SeqCst));
    Ok(())
}

fn accept(stream: tokio::net::UnixStream, shared: &Arc<Shared>) {
    let Ok(permit) = shared.connections.clone().try_acquire_owned() else {
        let max = shared.cfg.max_connections;
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut stream = stream;
            let mut line = serde_json::to_vec(&error_line(
                None,
                ErrorCode::Busy,
                &format!("{max} clients are connected (--max-connections); retry later"),
            ))
            .unwrap_or_default();
            line.push(b'\n');
            let _ = tokio::time::timeout(Duration::from_secs(1), stream.write_all(&line)).await;
        });
        return;
    };
    shared.stats.connections.fetch_add(1, Ordering::SeqCst);
    let shared = shared.clone();
    tokio::spawn(async move {
        connection::serve_connection(stream, shared.clone(), permit).await;
        shared.stats.connections.fetch_sub(1, Ordering::SeqCst);
    });
}

/// Waits for requests in flight up to the drain deadline, then cancels the rest and waits
/// for them to end.
async fn drain(shared: &Shared) {
    eprintln!("fgbench serve: stopping; {} request(s) in flight", shared.in_flight());
    let deadline = Instant::now() + shared.cfg.drain;
    while shared.in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if shared.in_flight() > 0 {
        eprintln!("fgbench serve: drain deadline passed; canceling {} request(s)", shared.in_flight());
        for flag in shared.running.lock().unwrap_or_else(|p| p.into_inner()).values() {
            flag.store(true, Ordering::SeqCst);
        }
        let hard = Instant::now() + Duration::from_secs(10);
        while shared.in_flight() > 0 && Instant::now() < hard {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
