//! Requests that take time (`generate`, `call`, `compare`, `load`): admitted under the
//! queue bound, run on their own task, and answered exactly once.
//!
//! Every such request is held by a [`Guard`] from admission to answer. The guard owns the
//! request's bookkeeping (its queue permits, its id among the connection's requests in
//! flight, its cancel flag among the server's, the in-flight count) and undoes all of it
//! when dropped, however the work ended; if the work never produced an answer (it panicked,
//! or its task was dropped), the guard answers `internal` itself.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::FutureExt;
use serde_json::{Value, json};
use tokio::sync::OwnedSemaphorePermit;

use super::connection::Outbox;
use super::protocol::{CaseInput, ErrorCode, Input, Settings, error_line};
use super::{LoadedModel, Shared};
use crate::dataset::{Case, CheckKind};
use crate::engine::{Completion, EngineError, Request};
use crate::score::{analyse_output, score_output};

#[derive(Clone, Copy, PartialEq)]
pub enum WorkKind {
    Generate,
    Call,
    Compare,
}

pub struct Work {
    pub models: Vec<String>,
    pub input: Input,
    pub settings: Settings,
    pub stream: bool,
    pub kind: WorkKind,
}

/// A request admitted and not yet answered.
pub struct Guard {
    shared: Arc<Shared>,
    outbox: Outbox,
    id: Option<Value>,
    /// The request's id on its connection (when it has one).
    key: Option<String>,
    run_key: u64,
    pub cancel: Arc<AtomicBool>,
    answered: bool,
    /// Bookkeeping undone (id, running entry, counters, queue places).
    settled: bool,
    permits: Option<OwnedSemaphorePermit>,
}

impl Guard {
    /// Admits a request that needs `units` queue permits (one per model it runs on), or
    /// answers why not (`busy`, `duplicate_id`) and returns `None`.
    pub async fn admit(shared: &Arc<Shared>, outbox: &Outbox, id: Option<Value>, units: usize) -> Option<Guard> {
        let permits = match u32::try_from(units).ok().and_then(|n| shared.permits.clone().try_acquire_many_owned(n).ok()) {
            Some(p) => p,
            None => {
                let msg = format!(
                    "{} of {} queue places free, {units} needed (--max-queue); retry later",
                    shared.permits.available_permits(),
                    shared.cfg.max_queue
                );
                outbox.reply(error_line(id.as_ref(), ErrorCode::Busy, &msg)).await;
                return None;
            }
        };
        let cancel = Arc::new(AtomicBool::new(outbox.is_closed()));
        let key = id.as_ref().map(|v| v.to_string());
        if let Some(k) = &key
            && !outbox.register(k, cancel.clone())
        {
            outbox
                .reply(error_line(id.as_ref(), ErrorCode::DuplicateId, &format!("request {k} is already in flight on this connection")))
                .await;
            return None;
        }
        let run_key = shared.next_key.fetch_add(1, Ordering::SeqCst);
        shared.running.lock().unwrap_or_else(|p| p.into_inner()).insert(run_key, cancel.clone());
        shared.stats.in_flight.fetch_add(1, Ordering::SeqCst);
        Some(Guard {
            shared: shared.clone(),
            outbox: outbox.clone(),
            id,
            key,
            run_key,
            cancel,
            answered: false,
            settled: false,
            permits: Some(permits),
        })
    }

    pub fn id(&self) -> Option<&Value> {
        self.id.as_ref()
    }

    /// Runs `work` on its own task and answers with what it returns; a panic inside it is
    /// answered as `internal` (and logged), and the server goes on.
    pub fn spawn<F>(mut self, work: F)
    where
        F: std::future::Future<Output = Value> + Send + 'static,
    {
        let tracker = self.shared.tracker.clone();
        tracker.spawn(async move {
            let reply = match AssertUnwindSafe(work).catch_unwind().await {
                Ok(v) => v,
                Err(panic) => {
                    let what = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_default();
                    eprintln!(
                        "fgbench serve: request {} failed inside the server: {what}",
                        self.id.as_ref().map(|v| v.to_string()).unwrap_or_default()
                    );
                    error_line(self.id.as_ref(), ErrorCode::Internal, &format!("the request failed inside the server: {what}"))
                }
            };
            // Settled before the answer goes out: a client that has its answer sees it in
            // `stats`, can reuse its id and has its queue place back.
            self.settle();
            self.answered = true;
            self.outbox.reply(reply).await;
        });
    }

    fn settle(&mut self) {
        if std::mem::replace(&mut self.settled, true) {
            return;
        }
        if let Some(k) = &self.key {
            self.outbox.unregister(k);
        }
        self.shared.running.lock().unwrap_or_else(|p| p.into_inner()).remove(&self.run_key);
        self.permits.take();
        self.shared.stats.served.fetch_add(1, Ordering::SeqCst);
        self.shared.stats.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.settle();
        if !self.answered {
            self.outbox.try_reply(error_line(self.id.as_ref(), ErrorCode::Internal, "the request was dropped inside the server"));
        }
    }
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
        (Some(CaseInput::Full(c)), _) => {
            // The same checks as a dataset file's cases get: the scorer relies on them.
            c.validate().map_err(|e| (ErrorCode::BadRequest, format!("case `{}`: {e}", c.id)))?;
            ((**c).clone(), true)
        }
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
        _ => return Err((ErrorCode::BadRequest, "give exactly one of `prompt`, `case`, `case_id`".into())),
    };
    Ok((style.render(&case.messages, &case.tools), Some(case), judged))
}

/// Admits and starts a generation request.
pub async fn start(shared: &Arc<Shared>, outbox: &Outbox, id: Option<Value>, work: Work) {
    let fail = |code, msg: &str| error_line(id.as_ref(), code, msg);
    let found: Result<Vec<(String, Arc<LoadedModel>)>, String> = {
        let models = shared.models.read().unwrap_or_else(|p| p.into_inner());
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
        Err(msg) => return outbox.reply(fail(ErrorCode::UnknownModel, &msg)).await,
    };
    let (prompt, case, judged) = match resolve_input(shared, &work.input) {
        Ok(x) => x,
        Err((code, msg)) => return outbox.reply(fail(code, &msg)).await,
    };
    let Some(guard) = Guard::admit(shared, outbox, id, engines.len()).await else { return };
    let settings = work.settings.apply(&shared.cfg.generation);
    let (shared2, outbox2, cancel, id) = (shared.clone(), outbox.clone(), guard.cancel.clone(), guard.id().cloned());
    // Shared by every model's worker: engines that take the conversation read it from here.
    let case = case.map(Arc::new);
    guard.spawn(async move {
        let mut handles = Vec::new();
        for (name, model) in engines {
            let (prompt, settings, cancel, outbox, id) = (prompt.clone(), settings.clone(), cancel.clone(), outbox2.clone(), id.clone());
            let case = case.clone();
            let stream = work.stream;
            handles.push(tokio::task::spawn_blocking(move || {
                let mut on_piece = |piece: &str| {
                    if cancel.load(Ordering::SeqCst) {
                        return false;
                    }
                    !stream || outbox.event(json!({"id": id, "type": "token", "text": piece}))
                };
                // The engine is dropped here, on a blocking thread, if it was unloaded meanwhile.
                let request =
                    Request { prompt: &prompt, conversation: case.as_deref().map(|c| (c.messages.as_slice(), c.tools.as_slice())) };
                (name, model.engine.generate_request(&request, &settings, &mut on_piece))
            }));
        }
        let mut outcomes: Vec<(String, Result<Completion, EngineError>)> = Vec::new();
        for h in handles {
            match h.await {
                Ok(x) => outcomes.push(x),
                Err(e) => outcomes.push(("?".into(), Err(EngineError::Generate(format!("worker panicked: {e}"))))),
            }
        }
        respond(&shared2, id.as_ref(), work.kind, case.as_deref(), judged, outcomes)
    });
}

/// One model's answer: text, parsed calls, verdict (when the case can be judged), timings.
fn outcome(shared: &Shared, case: Option<&Case>, judged: bool, c: &Completion) -> Value {
    // Scoring analyses the output too: analyse it once either way.
    let (calls, shape, parse_error, verdict) = match (case, judged) {
        (Some(case), true) => {
            let s = score_output(&case.into(), &c.text, &shared.cfg.scoring);
            let verdict = json!({"valid": s.check.valid, "error_type": s.check.error_type, "error": s.check.error, "scorer": shared.cfg.scoring.scorer.name()});
            (s.calls, s.shape, s.parse_error, Some(verdict))
        }
        _ => {
            let (calls, shape, parse_error) = analyse_output(&c.text, shared.cfg.scoring.parser);
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

fn engine_error(id: Option<&Value>, e: &EngineError) -> Value {
    match e {
        EngineError::Canceled => error_line(id, ErrorCode::Canceled, "canceled"),
        // Settings the engine cannot run (a prompt plus max_new_tokens past the context).
        EngineError::Unsupported(m) => error_line(id, ErrorCode::BadRequest, m),
        e => error_line(id, ErrorCode::Engine, &e.to_string()),
    }
}

fn respond(
    shared: &Shared,
    id: Option<&Value>,
    kind: WorkKind,
    case: Option<&Case>,
    judged: bool,
    outcomes: Vec<(String, Result<Completion, EngineError>)>,
) -> Value {
    for (name, r) in &outcomes {
        if let Ok(c) = r {
            shared.stats.record(name, c);
        }
    }
    if kind != WorkKind::Compare {
        let Some((_, r)) = outcomes.into_iter().next() else {
            return error_line(id, ErrorCode::Internal, "no model ran the request");
        };
        return match r {
            Ok(c) => {
                let mut v = json!({"id": id, "type": if kind == WorkKind::Call { "call" } else { "result" }});
                if let (Value::Object(head), Value::Object(body)) = (&mut v, outcome(shared, case, judged, &c)) {
                    head.extend(body);
                }
                v
            }
            Err(e) => engine_error(id, &e),
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
