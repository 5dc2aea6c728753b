//! `fgbench serve`: loaded models behind a Unix domain socket, newline-delimited JSON
//! (docs/protocol.md). The same engines, codec and scorer as `eval`, so a live answer equals
//! the batch one under greedy decoding.
//!
//! - tokio accepts connections; each connection has a reader (requests, size-limited lines)
//!   and a writer task (responses and stream events, from a bounded channel);
//! - generation runs on blocking threads that call the engine, many at once, which is how
//!   requests reach the engine's batching; a semaphore bounds requests in flight (beyond
//!   it: `busy`);
//! - a request is canceled by `cancel`, by its client going away (a failed write), or by a
//!   shutdown whose drain deadline passed.

pub mod client;
pub mod protocol;
pub mod socket;

use std::collections::{HashMap, VecDeque};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::sync::{Semaphore, mpsc, watch};

use crate::codec::PromptStyle;
use crate::dataset::{Case, CheckKind, Dataset};
use crate::engine::{Completion, Engine, EngineError, GenerationSettings};
use crate::score::{ScoreOptions, analyse_output, score_output};
use protocol::{CaseInput, Envelope, ErrorCode, Input, PROTOCOL, Request, Settings, classify, error_line};

/// A model the server holds.
pub struct LoadedModel {
    pub engine: Arc<dyn Engine>,
    /// What `models` shows: source, path, hashes, engine info.
    pub description: Value,
}

/// Loads a model by source; `engine` and `adapter` as a `load` request gives them.
pub type Loader = dyn Fn(&str, Option<&str>, Option<&str>) -> Result<LoadedModel, String> + Send + Sync;

pub struct ServeConfig {
    pub socket: PathBuf,
    /// Requests accepted at once (running or waiting for the engine); beyond: `busy`.
    pub max_queue: usize,
    pub max_line: usize,
    /// How long a shutdown waits for requests in flight before canceling them.
    pub drain: Duration,
    pub generation: GenerationSettings,
    pub style: PromptStyle,
    pub scoring: ScoreOptions,
    pub dataset: Option<Dataset>,
}

struct Shared {
    cfg: ServeConfig,
    loader: Box<Loader>,
    models: RwLock<HashMap<String, Arc<LoadedModel>>>,
    permits: Arc<Semaphore>,
    served: AtomicU64,
    in_flight: AtomicUsize,
    latencies: Mutex<HashMap<String, VecDeque<f64>>>,
    /// Cancel flags of every running request (a shutdown past its deadline sets them all).
    running: Mutex<HashMap<u64, Arc<AtomicBool>>>,
    next_key: AtomicU64,
    stopping: watch::Sender<bool>,
}

/// Runs the server until SIGINT, SIGTERM or a `shutdown` request; then drains and removes
/// the socket file.
pub async fn serve(cfg: ServeConfig, loader: Box<Loader>, initial: Vec<(String, LoadedModel)>) -> Result<(), socket::SocketError> {
    let listener = socket::bind(&cfg.socket)?;
    let (stopping, _) = watch::channel(false);
    let shared = Arc::new(Shared {
        permits: Arc::new(Semaphore::new(cfg.max_queue.max(1))),
        models: RwLock::new(initial.into_iter().map(|(n, m)| (n, Arc::new(m))).collect()),
        cfg,
        loader,
        served: AtomicU64::new(0),
        in_flight: AtomicUsize::new(0),
        latencies: Mutex::new(HashMap::new()),
        running: Mutex::new(HashMap::new()),
        next_key: AtomicU64::new(0),
        stopping,
    });
    eprintln!("fgbench serve: listening on {} ({})", shared.cfg.socket.display(), PROTOCOL);
    let mut stop_rx = shared.stopping.subscribe();
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                if let Ok((stream, _)) = accepted {
                    tokio::spawn(connection(stream, shared.clone()));
                }
            }
            _ = tokio::signal::ctrl_c() => break,
            _ = async { match sigterm.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => break,
            _ = stop_rx.changed() => break,
        }
    }
    let _ = shared.stopping.send(true);
    drop(listener);
    let _ = std::fs::remove_file(&shared.cfg.socket);
    eprintln!("fgbench serve: stopping; {} request(s) in flight", shared.in_flight.load(Ordering::SeqCst));
    let deadline = Instant::now() + shared.cfg.drain;
    while shared.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if shared.in_flight.load(Ordering::SeqCst) > 0 {
        eprintln!("fgbench serve: drain deadline passed; canceling {} request(s)", shared.in_flight.load(Ordering::SeqCst));
        for flag in shared.running.lock().expect("lock").values() {
            flag.store(true, Ordering::SeqCst);
        }
        let hard = Instant::now() + Duration::from_secs(10);
        while shared.in_flight.load(Ordering::SeqCst) > 0 && Instant::now() < hard {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Give writers a moment to flush the last responses.
    tokio::time::sleep(Duration::from_millis(50)).await;
    eprintln!("fgbench serve: stopped after {} request(s)", shared.served.load(Ordering::SeqCst));
    Ok(())
}

/// The in-flight requests of one connection, by id, for `cancel`.
type Pending = Arc<Mutex<HashMap<String, Arc<AtomicBool>>>>;

async fn connection(stream: UnixStream, shared: Arc<Shared>) {
    let (rd, mut wr) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Value>(1024);
    let gone = Arc::new(AtomicBool::new(false));
    let pending: Pending = Arc::new(Mutex::new(HashMap::new()));
    let writer = {
        let (gone, pending) = (gone.clone(), pending.clone());
        tokio::spawn(async move {
            while let Some(v) = rx.recv().await {
                let mut line = serde_json::to_vec(&v).expect("responses serialize");
                line.push(b'\n');
                if wr.write_all(&line).await.is_err() {
                    // The client went away: free its work.
                    gone.store(true, Ordering::SeqCst);
                    for f in pending.lock().expect("lock").values() {
                        f.store(true, Ordering::SeqCst);
                    }
                    break;
                }
            }
        })
    };
    let mut reader = BufReader::new(rd);
    let max = shared.cfg.max_line;
    let mut buf = Vec::new();
    loop {
        buf.clear();
        let n = match (&mut reader).take(max as u64 + 1).read_until(b'\n', &mut buf).await {
            Ok(n) => n,
            Err(_) => break,
        };
        if n == 0 {
            break;
        }
        if buf.last() != Some(&b'\n') && buf.len() > max {
            // Discard the rest of the over-long line, then answer once.
            let mut skip = Vec::new();
            loop {
                skip.clear();
                match (&mut reader).take(64 * 1024).read_until(b'\n', &mut skip).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) if skip.last() == Some(&b'\n') => break,
                    Ok(_) => {}
                }
            }
            let _ = tx.send(error_line(None, ErrorCode::LineTooLong, &format!("request line longer than {max} bytes"))).await;
            continue;
        }
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        let Ok(line) = std::str::from_utf8(&buf) else {
            let _ = tx.send(error_line(None, ErrorCode::InvalidUtf8, "request line is not valid UTF-8")).await;
            continue;
        };
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Envelope>(line) {
            Ok(Envelope { id, request }) => dispatch(id, request, &shared, &tx, &pending, &gone).await,
            Err(_) => {
                let (code, message, id) = classify(line);
                let _ = tx.send(error_line(id.as_ref(), code, &message)).await;
            }
        }
    }
    // End of input: requests already sent still get their answers.
    drop(tx);
    let _ = writer.await;
}

fn id_key(id: Option<&Value>) -> Option<String> {
    id.map(|v| v.to_string())
}

async fn dispatch(id: Option<Value>, req: Request, shared: &Arc<Shared>, tx: &mpsc::Sender<Value>, pending: &Pending, gone: &Arc<AtomicBool>) {
    let reply = |v: Value| async {
        let _ = tx.send(v).await;
    };
    if *shared.stopping.borrow() && !matches!(req, Request::Stats | Request::Models) {
        return reply(error_line(id.as_ref(), ErrorCode::ShuttingDown, "the server is shutting down")).await;
    }
    match req {
        Request::Hello { protocol } => {
            if protocol.split('/').next() != PROTOCOL.split('/').next() || protocol != PROTOCOL {
                return reply(error_line(id.as_ref(), ErrorCode::UnsupportedProtocol, &format!("this server speaks {PROTOCOL}, not {protocol}"))).await;
            }
            reply(json!({"id": id, "type": "hello", "protocol": PROTOCOL, "server": format!("fgbench {}", env!("CARGO_PKG_VERSION")),
                "models": shared.models.read().expect("lock").keys().cloned().collect::<Vec<_>>()}))
            .await
        }
        Request::Models => {
            let mut list: Vec<Value> = shared.models.read().expect("lock").iter().map(|(n, m)| json!({"name": n, "model": m.description})).collect();
            list.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
            reply(json!({"id": id, "type": "models", "models": list})).await
        }
        Request::Stats => reply(stats(shared, id.as_ref())).await,
        Request::Cancel { target } => {
            let key = target.to_string();
            let found = pending.lock().expect("lock").get(&key).cloned();
            match found {
                Some(flag) => {
                    flag.store(true, Ordering::SeqCst);
                    reply(json!({"id": id, "type": "cancel", "target": target, "found": true})).await
                }
                None => reply(error_line(id.as_ref(), ErrorCode::UnknownRequest, &format!("no request {key} in flight on this connection"))).await,
            }
        }
        Request::Shutdown => {
            reply(json!({"id": id, "type": "shutdown", "in_flight": shared.in_flight.load(Ordering::SeqCst)})).await;
            let _ = shared.stopping.send(true);
        }
        Request::Unload { name } => {
            let removed = shared.models.write().expect("lock").remove(&name);
            match removed {
                // Requests already running keep their Arc; the engine is freed after them.
                Some(_) => reply(json!({"id": id, "type": "unload", "name": name})).await,
                None => reply(error_line(id.as_ref(), ErrorCode::UnknownModel, &format!("no model named `{name}`"))).await,
            }
        }
        Request::Load { name, source, engine, adapter } => {
            let shared = shared.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let s2 = shared.clone();
                let loaded = tokio::task::spawn_blocking(move || (s2.loader)(&source, engine.as_deref(), adapter.as_deref())).await;
                let v = match loaded {
                    Ok(Ok(m)) => {
                        let description = m.description.clone();
                        shared.models.write().expect("lock").insert(name.clone(), Arc::new(m));
                        json!({"id": id, "type": "load", "name": name, "model": description})
                    }
                    Ok(Err(e)) => error_line(id.as_ref(), ErrorCode::Load, &e),
                    Err(e) => error_line(id.as_ref(), ErrorCode::Load, &format!("loader crashed: {e}")),
                };
                let _ = tx.send(v).await;
            });
        }
        Request::Generate { model, input, settings, stream } => {
            spawn_work(shared, tx, pending, gone, id, Work { models: vec![model], input, settings, stream, kind: WorkKind::Generate }).await
        }
        Request::Call { model, input, settings } => {
            spawn_work(shared, tx, pending, gone, id, Work { models: vec![model], input, settings, stream: false, kind: WorkKind::Call }).await
        }
        Request::Compare { models, input, settings } => {
            if models.len() < 2 {
                return reply(error_line(id.as_ref(), ErrorCode::BadRequest, "`compare` needs at least two models")).await;
            }
            spawn_work(shared, tx, pending, gone, id, Work { models, input, settings, stream: false, kind: WorkKind::Compare }).await
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum WorkKind {
    Generate,
    Call,
    Compare,
}

struct Work {
    models: Vec<String>,
    input: Input,
    settings: Settings,
    stream: bool,
    kind: WorkKind,
}

/// The prompt of a request, and the case when one was given (for calls and verdicts).
fn resolve_input(shared: &Shared, input: &Input) -> Result<(String, Option<Case>, bool), (ErrorCode, String)> {
    let style = input.prompt_style.unwrap_or(shared.cfg.style);
    let given = [input.prompt.is_some(), input.case.is_some(), input.case_id.is_some()].iter().filter(|b| **b).count();
    if given != 1 {
        return Err((ErrorCode::BadRequest, "give exactly one of `prompt`, `case`, `case_id`".into()));
    }
    if let Some(p) = &input.prompt {
        return Ok((p.clone(), None, false));
    }
    let (case, judged) = match (&input.case, &input.case_id) {
        (Some(CaseInput::Full(c)), _) => ((**c).clone(), true),
        (Some(CaseInput::Bare { tools, messages }), _) => (
            Case {
                schema: crate::dataset::case::CASE_SCHEMA.into(),
                id: "live".into(),
                category: "live".into(),
                kind: CheckKind::Simple,
                messages: messages.clone(),
                tools: tools.clone(),
                answers: Vec::new(),
                source: None,
            },
            false,
        ),
        (None, Some(cid)) => {
            let ds = shared.cfg.dataset.as_ref().ok_or((ErrorCode::UnknownCase, format!("case `{cid}`: the server has no --dataset")))?;
            (ds.get(cid).map_err(|e| (ErrorCode::UnknownCase, e.to_string()))?.clone(), true)
        }
        _ => unreachable!("exactly one input was checked"),
    };
    Ok((style.render(&case.messages, &case.tools), Some(case), judged))
}

async fn spawn_work(shared: &Arc<Shared>, tx: &mpsc::Sender<Value>, pending: &Pending, gone: &Arc<AtomicBool>, id: Option<Value>, work: Work) {
    let fail = |code, msg: &str| error_line(id.as_ref(), code, msg);
    let found: Result<Vec<(String, Arc<LoadedModel>)>, String> = {
        let models = shared.models.read().expect("lock");
        work.models
            .iter()
            .map(|name| match models.get(name) {
                Some(m) => Ok((name.clone(), m.clone())),
                None => Err(format!("no model named `{name}` (loaded: {})", models.keys().cloned().collect::<Vec<_>>().join(", "))),
            })
            .collect()
    };
    let engines = match found {
        Ok(e) => e,
        Err(msg) => {
            let _ = tx.send(fail(ErrorCode::UnknownModel, &msg)).await;
            return;
        }
    };
    let (prompt, case, judged) = match resolve_input(shared, &work.input) {
        Ok(x) => x,
        Err((code, msg)) => {
            let _ = tx.send(fail(code, &msg)).await;
            return;
        }
    };
    let Ok(permit) = shared.permits.clone().try_acquire_owned() else {
        let _ = tx.send(fail(ErrorCode::Busy, &format!("{} requests in flight (--max-queue); retry later", shared.cfg.max_queue))).await;
        return;
    };
    let cancel = Arc::new(AtomicBool::new(gone.load(Ordering::SeqCst)));
    if let Some(key) = id_key(id.as_ref()) {
        let duplicate = {
            let mut p = pending.lock().expect("lock");
            let dup = p.contains_key(&key);
            if !dup {
                p.insert(key.clone(), cancel.clone());
            }
            dup
        };
        if duplicate {
            let _ = tx.send(fail(ErrorCode::DuplicateId, &format!("request {key} is already in flight on this connection"))).await;
            return;
        }
    }
    let run_key = shared.next_key.fetch_add(1, Ordering::SeqCst);
    shared.running.lock().expect("lock").insert(run_key, cancel.clone());
    shared.in_flight.fetch_add(1, Ordering::SeqCst);
    let settings = work.settings.apply(&shared.cfg.generation);
    let (shared, tx, pending) = (shared.clone(), tx.clone(), pending.clone());
    tokio::spawn(async move {
        let mut handles = Vec::new();
        for (name, model) in engines {
            let (prompt, settings, cancel, tx, id) = (prompt.clone(), settings.clone(), cancel.clone(), tx.clone(), id.clone());
            let stream = work.stream;
            handles.push(tokio::task::spawn_blocking(move || {
                let mut on_piece = |piece: &str| {
                    if cancel.load(Ordering::SeqCst) {
                        return false;
                    }
                    !stream || tx.blocking_send(json!({"id": id, "type": "token", "text": piece})).is_ok()
                };
                (name, model.engine.generate_streaming(&prompt, &settings, &mut on_piece))
            }));
        }
        let mut outcomes: Vec<(String, Result<Completion, EngineError>)> = Vec::new();
        for h in handles {
            match h.await {
                Ok(x) => outcomes.push(x),
                Err(e) => outcomes.push(("?".into(), Err(EngineError::Generate(format!("worker panicked: {e}"))))),
            }
        }
        let response = respond(&shared, id.as_ref(), work.kind, case.as_ref(), judged, outcomes);
        let _ = tx.send(response).await;
        if let Some(key) = id_key(id.as_ref()) {
            pending.lock().expect("lock").remove(&key);
        }
        shared.running.lock().expect("lock").remove(&run_key);
        shared.served.fetch_add(1, Ordering::SeqCst);
        shared.in_flight.fetch_sub(1, Ordering::SeqCst);
        drop(permit);
    });
}

/// One model's answer: text, parsed calls, verdict (when the case can be judged), timings.
fn outcome(shared: &Shared, case: Option<&Case>, judged: bool, c: &Completion) -> Value {
    // Scoring analyses the output too: analyse it once either way.
    let (calls, shape, parse_error, verdict) = match (case, judged) {
        (Some(case), true) => {
            let s = score_output(case, &c.text, &shared.cfg.scoring);
            let verdict = json!({"valid": s.check.valid, "error_type": s.check.error_type, "error": s.check.error});
            (s.calls, s.shape, s.parse_error, Some(verdict))
        }
        _ => {
            let (calls, shape, parse_error) = analyse_output(&c.text);
            (calls, shape, parse_error, None)
        }
    };
    let mut v = json!({"text": c.text, "finish_reason": c.finish_reason, "calls": calls, "shape": shape,
        "parse_error": parse_error, "timings": c.timings});
    if let Some(verdict) = verdict {
        v["verdict"] = verdict;
    }
    v
}

fn respond(shared: &Shared, id: Option<&Value>, kind: WorkKind, case: Option<&Case>, judged: bool, outcomes: Vec<(String, Result<Completion, EngineError>)>) -> Value {
    for (name, r) in &outcomes {
        if let Ok(c) = r
            && let Some(ms) = c.timings.total_ms
        {
            let mut l = shared.latencies.lock().expect("lock");
            let q = l.entry(name.clone()).or_default();
            q.push_back(ms);
            if q.len() > 10_000 {
                q.pop_front();
            }
        }
    }
    if kind != WorkKind::Compare {
        let (_, r) = outcomes.into_iter().next().expect("one model");
        return match r {
            Ok(c) => {
                let mut v = json!({"id": id, "type": if kind == WorkKind::Call { "call" } else { "result" }});
                if let (Value::Object(head), Value::Object(body)) = (&mut v, outcome(shared, case, judged, &c)) {
                    head.extend(body);
                }
                v
            }
            Err(EngineError::Canceled) => error_line(id, ErrorCode::Canceled, "canceled"),
            Err(e) => error_line(id, ErrorCode::Engine, &e.to_string()),
        };
    }
    let mut results = serde_json::Map::new();
    let mut texts = Vec::new();
    for (name, r) in outcomes {
        let v = match r {
            Ok(c) => {
                texts.push(c.text.clone());
                outcome(shared, case, judged, &c)
            }
            Err(EngineError::Canceled) => return error_line(id, ErrorCode::Canceled, "canceled"),
            Err(e) => json!({"error": e.to_string()}),
        };
        results.insert(name, v);
    }
    let identical = texts.len() == results.len() && texts.windows(2).all(|w| w[0] == w[1]);
    json!({"id": id, "type": "compare", "results": results, "identical": identical})
}

fn stats(shared: &Shared, id: Option<&Value>) -> Value {
    let lat = shared.latencies.lock().expect("lock");
    let mut per_model = serde_json::Map::new();
    for (name, q) in lat.iter() {
        let v: Vec<f64> = q.iter().copied().collect();
        let p = |x| crate::stats::percentile(&v, x);
        per_model.insert(name.clone(), json!({"requests": v.len(), "e2e_ms_p50": p(0.5), "e2e_ms_p95": p(0.95), "e2e_ms_p99": p(0.99)}));
    }
    let in_flight = shared.in_flight.load(Ordering::SeqCst);
    json!({"id": id, "type": "stats", "served": shared.served.load(Ordering::SeqCst), "in_flight": in_flight,
        "queue_capacity": shared.cfg.max_queue, "queue_free": shared.permits.available_permits(), "models": per_model})
}
