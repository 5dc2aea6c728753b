//! The remote engine: a served deployment behind an OpenAI-compatible API (vLLM, SGLang,
//! llama.cpp's llama-server, TGI, Ollama). The only module that speaks HTTP.
//!
//! `raw` mode sends fgbench's own rendered prompt to `/v1/completions`, so the wire format is
//! exactly fgbench's; `chat` mode sends the case's messages and tools to
//! `/v1/chat/completions`, so the server's chat template and tool parser are measured too.
//! Both stream (server-sent events): TTFT, the last call's time and token counts are
//! measured as for the local engines, network included.

mod fleet;
mod wire;

use std::time::{Duration, Instant};

use eventsource_stream::Eventsource;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Completion, Engine, EngineError, EngineInfo, GenerationSettings, Request, Tracker};
use crate::codec::tokens::BOS;
use fleet::{Fleet, Lease, backoff};
use wire::{Chunk, RawPrompt, ToolCalls};

/// Whether a model source names a served deployment (`http://host:port[,http://...]`).
pub fn is_endpoint(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// What a remote request sends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum RemoteMode {
    /// `/v1/completions` with fgbench's rendered prompt and stop sequences.
    #[default]
    Raw,
    /// `/v1/chat/completions` with the case's messages and tools; `tool_calls` are scored.
    Chat,
}

/// A served deployment (`--engine openai`), as the engine factory gets it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RemoteSpec {
    pub endpoints: Vec<String>,
    pub mode: RemoteMode,
    /// The `model` field; by default the first model the first endpoint lists.
    pub served_model: Option<String>,
    /// The environment variable holding the API key (sent as a bearer token when set).
    pub api_key_env: String,
    pub connect_timeout_s: f64,
    /// The longest wait for a response to start, and between two streamed chunks.
    pub read_timeout_s: f64,
    /// Retries of a request that failed before anything streamed (connection errors, 429,
    /// 5xx, a stall), with back-off.
    pub retries: u32,
}

fn seconds(flag: &str, s: f64) -> Result<Duration, EngineError> {
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero() && d.as_secs() <= 86_400)
        .ok_or_else(|| EngineError::Unsupported(format!("{flag} {s}: expected seconds between 0 and 86400")))
}

/// What the manifest records about a remote engine.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct RemoteInfo {
    pub endpoints: Vec<String>,
    pub mode: RemoteMode,
    /// The `model` field sent.
    pub served_model: String,
    /// `token ids` (from the server's /tokenize) or `text` (special tokens parsed by the server).
    pub prompt_form: String,
    /// What each endpoint said about itself at start (its models, build), or why it could not.
    pub servers: Vec<Value>,
    /// Timings are measured by fgbench around the HTTP exchange.
    pub timings: String,
}

pub struct OpenAiEngine {
    rt: tokio::runtime::Runtime,
    client: reqwest::Client,
    fleet: Fleet,
    opts: RemoteSpec,
    read_timeout: Duration,
    /// Requests the run keeps in flight (recorded, not enforced: the server batches).
    max_sequences: usize,
    model: String,
    api_key: Option<String>,
    /// Send token ids from the server's /tokenize rather than text.
    token_prompts: bool,
    info: EngineInfo,
}

/// A failed attempt: the error, and whether another attempt may succeed.
struct Failure {
    error: EngineError,
    retry: bool,
    retry_after: Option<Duration>,
}

impl Failure {
    fn retry(endpoint: &str, message: String) -> Failure {
        Failure { error: http(endpoint, None, message), retry: true, retry_after: None }
    }
    fn fatal(error: EngineError) -> Failure {
        Failure { error, retry: false, retry_after: None }
    }
}

fn http(endpoint: &str, status: Option<u16>, message: String) -> EngineError {
    EngineError::Http { endpoint: endpoint.to_string(), status, message }
}

/// A reqwest error with its causes (the top level alone says only "error sending request").
fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// How long an idle connection stays in the pool. Servers close idle keep-alive connections
/// after 5 s (llama-server's cpp-httplib, uvicorn under vLLM); dropping ours first means no
/// request goes out on a connection the server is closing at that moment, which fails it
/// with "connection closed before message completed".
const POOL_IDLE: Duration = Duration::from_secs(4);

fn http_client(connect_timeout: Duration) -> Result<reqwest::Client, EngineError> {
    reqwest::Client::builder()
        .connect_timeout(connect_timeout)
        .pool_idle_timeout(POOL_IDLE)
        .build()
        .map_err(|e| EngineError::Generate(format!("HTTP client: {}", describe(&e))))
}

impl OpenAiEngine {
    /// Connects to the endpoints and asks them what they serve. An endpoint that is down is
    /// not an error here: its requests fail (recorded per case) until it is back.
    pub fn connect(opts: RemoteSpec, max_sequences: usize) -> Result<OpenAiEngine, EngineError> {
        let t0 = Instant::now();
        let connect_timeout = seconds("--connect-timeout-s", opts.connect_timeout_s)?;
        let read_timeout = seconds("--read-timeout-s", opts.read_timeout_s)?;
        let fleet = Fleet::new(&opts.endpoints).map_err(EngineError::Unsupported)?;
        let api_key = std::env::var(&opts.api_key_env).ok().filter(|k| !k.is_empty());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("fgbench-http")
            .enable_all()
            .build()
            .map_err(|e| EngineError::Generate(format!("HTTP runtime: {e}")))?;
        let client = http_client(connect_timeout)?;
        let mut engine = OpenAiEngine {
            rt,
            client,
            fleet,
            model: opts.served_model.clone().unwrap_or_default(),
            opts,
            read_timeout,
            max_sequences,
            api_key,
            token_prompts: false,
            info: EngineInfo::default(),
        };
        let servers = engine.rt.block_on(engine.probe())?;
        let reachable: Vec<&Value> = servers.iter().filter(|s| s.get("unreachable").is_none()).collect();
        if engine.model.is_empty() {
            engine.model = reachable
                .iter()
                .find_map(|s| s["models"].as_array().and_then(|m| m.first()).and_then(|m| m.as_str()).map(String::from))
                .unwrap_or_else(|| "default".into());
        }
        engine.token_prompts = engine.opts.mode == RemoteMode::Raw
            && !reachable.is_empty()
            && reachable.len() == servers.len()
            && servers.iter().all(|s| s["tokenize"] == true);
        let build = reachable.first().and_then(|s| s.get("build")).and_then(|b| b.as_str()).map(String::from);
        let remote = RemoteInfo {
            endpoints: engine.fleet.endpoints().iter().map(|e| e.base.clone()).collect(),
            mode: engine.opts.mode,
            served_model: engine.model.clone(),
            prompt_form: if engine.token_prompts { "token ids".into() } else { "text".into() },
            servers,
            timings: "network-inclusive (measured by fgbench around each HTTP request)".into(),
        };
        engine.info = EngineInfo {
            engine: "openai".into(),
            engine_version: format!("openai-compatible/{}", if engine.opts.mode == RemoteMode::Raw { "raw" } else { "chat" }),
            dtype: "remote".into(),
            device: remote.endpoints.join(","),
            backend_feature: "http".into(),
            max_sequences: engine.max_sequences,
            load_ms: t0.elapsed().as_secs_f64() * 1000.0,
            build,
            remote: Some(remote),
            ..EngineInfo::default()
        };
        Ok(engine)
    }

    fn authorized(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.api_key {
            Some(k) => r.bearer_auth(k),
            None => r,
        }
    }

    /// One JSON exchange with a short deadline (start-up questions, /tokenize).
    async fn json_call(&self, req: reqwest::RequestBuilder) -> Result<(u16, Value), String> {
        let resp = tokio::time::timeout(self.read_timeout, self.authorized(req).send())
            .await
            .map_err(|_| format!("no answer within {:.1} s", self.read_timeout.as_secs_f64()))?
            .map_err(|e| describe(&e))?;
        let status = resp.status().as_u16();
        let body = tokio::time::timeout(self.read_timeout, resp.bytes())
            .await
            .map_err(|_| "the answer stalled".to_string())?
            .map_err(|e| describe(&e))?;
        Ok((status, serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))))
    }

    /// What each endpoint serves (`/v1/models`), its build where it says (llama-server's
    /// `/props`, vLLM's `/version`), and whether `/tokenize` turns a prompt into ids.
    async fn probe(&self) -> Result<Vec<Value>, EngineError> {
        let mut out = Vec::new();
        for e in self.fleet.endpoints() {
            let base = &e.base;
            let mut s = json!({"endpoint": base});
            match self.json_call(self.client.get(format!("{base}/v1/models"))).await {
                Err(why) => {
                    eprintln!(
                        "fgbench: {base} is unreachable at start ({why}); its requests are retried and recorded as failed while it stays down"
                    );
                    s["unreachable"] = why.into();
                    out.push(s);
                    continue;
                }
                Ok((status @ (401 | 403), body)) => {
                    return Err(http(
                        base,
                        Some(status),
                        format!("authentication refused (set ${} to the server's API key): {body}", self.opts.api_key_env),
                    ));
                }
                Ok((200, body)) => {
                    let ids: Vec<Value> = body["data"].as_array().into_iter().flatten().filter_map(|m| m.get("id").cloned()).collect();
                    if let Some(want) = &self.opts.served_model
                        && !ids.is_empty()
                        && !ids.iter().any(|i| i == want.as_str())
                    {
                        return Err(http(base, Some(404), format!("serves no model named `{want}` (it lists {})", Value::Array(ids))));
                    }
                    s["models"] = Value::Array(ids);
                }
                Ok((status, body)) => s["models_error"] = format!("HTTP {status}: {body}").into(),
            }
            if let Ok((200, props)) = self.json_call(self.client.get(format!("{base}/props"))).await
                && let Some(build) = props.get("build_info").and_then(|b| b.as_str())
            {
                s["build"] = format!("llama.cpp {build}").into();
            } else if let Ok((200, v)) = self.json_call(self.client.get(format!("{base}/version"))).await
                && let Some(version) = v.get("version").and_then(|b| b.as_str())
            {
                s["build"] = format!("version {version}").into();
            }
            s["tokenize"] = self.tokenize(base, BOS).await.map(|ids| ids.len() == 1).unwrap_or(false).into();
            out.push(s);
        }
        Ok(out)
    }

    /// The server's token ids for a rendered prompt (special tokens parsed, none added). One
    /// body serves llama-server (`content`, `add_special`) and vLLM (`prompt`,
    /// `add_special_tokens`).
    async fn tokenize(&self, base: &str, prompt: &str) -> Result<Vec<u32>, String> {
        let body = json!({"content": prompt, "prompt": prompt, "model": self.model, "add_special": false,
            "add_special_tokens": false, "parse_special": true});
        match self.json_call(self.client.post(format!("{base}/tokenize")).json(&body)).await? {
            (200, v) => serde_json::from_value(v["tokens"].clone()).map_err(|e| format!("/tokenize answered {v}: {e}")),
            (status, v) => Err(format!("/tokenize: HTTP {status}: {v}")),
        }
    }

    /// Runs one request with retries; `start` is when the caller handed it over.
    fn run(
        &self,
        call: Call<'_>,
        settings: &GenerationSettings,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, EngineError> {
        let start = Instant::now();
        self.rt.block_on(async {
            let mut attempt = 0;
            let mut avoid: Option<String> = None;
            loop {
                let lease = self.fleet.take(avoid.as_deref());
                let streamed = std::cell::Cell::new(false);
                let mut watch = |piece: &str| {
                    streamed.set(true);
                    on_piece(piece)
                };
                match self.attempt(&lease, &call, settings, &mut watch, start).await {
                    Ok(c) => return Ok(c),
                    Err(f) => {
                        attempt += 1;
                        // Text already handed on cannot be taken back: no retry after it.
                        if !f.retry || streamed.get() || attempt > self.opts.retries {
                            return Err(f.error);
                        }
                        avoid = Some(lease.endpoint.base.clone());
                        drop(lease);
                        tokio::time::sleep(backoff(attempt, f.retry_after)).await;
                    }
                }
            }
        })
    }

    async fn attempt(
        &self,
        lease: &Lease<'_>,
        call: &Call<'_>,
        settings: &GenerationSettings,
        on_piece: &mut dyn FnMut(&str) -> bool,
        start: Instant,
    ) -> Result<Completion, Failure> {
        let base = &lease.endpoint.base;
        let (url, body) = match call {
            Call::Raw(prompt) => {
                let p = if self.token_prompts {
                    RawPrompt::Tokens(self.tokenize(base, prompt).await.map_err(|m| Failure::retry(base, m))?)
                } else {
                    RawPrompt::text(prompt)
                };
                (format!("{base}/v1/completions"), wire::completion_body(&self.model, &p, settings))
            }
            Call::Chat { messages, tools } => {
                (format!("{base}/v1/chat/completions"), wire::chat_body(&self.model, messages, tools, settings))
            }
        };
        let wait = self.read_timeout;
        let resp = match tokio::time::timeout(wait, self.authorized(self.client.post(&url).json(&body)).send()).await {
            Err(_) => return Err(Failure::retry(&url, format!("no response within the read timeout ({:.1} s)", wait.as_secs_f64()))),
            Ok(Err(e)) => return Err(Failure::retry(&url, describe(&e))),
            Ok(Ok(r)) => r,
        };
        let status = resp.status();
        if !status.is_success() {
            let retry_after = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse().ok())
                .map(Duration::from_secs);
            let text = tokio::time::timeout(wait, resp.text()).await.ok().and_then(Result::ok).unwrap_or_default();
            let text: String = text.chars().take(400).collect();
            let code = status.as_u16();
            let message = match code {
                401 | 403 => format!("HTTP {code}: authentication refused (set ${}): {text}", self.opts.api_key_env),
                404 => format!(
                    "HTTP 404: not found (is this an OpenAI-compatible server, and `{}` its model? see --served-model): {text}",
                    self.model
                ),
                _ => format!("HTTP {code}: {text}"),
            };
            let retry = code == 429 || status.is_server_error();
            return Err(Failure { error: http(&url, Some(code), message), retry, retry_after });
        }
        let mut events = resp.bytes_stream().eventsource();
        let mut tracker = Tracker::new(start);
        let (mut calls, mut content) = (ToolCalls::default(), String::new());
        let (mut usage, mut cached, mut finish, mut last_tool_ms) = (None, None, None::<String>, None);
        let mut done = false;
        loop {
            let event = match tokio::time::timeout(wait, events.next()).await {
                Err(_) => {
                    return Err(Failure::retry(&url, format!("the stream stalled past the read timeout ({:.1} s)", wait.as_secs_f64())));
                }
                Ok(None) => break,
                Ok(Some(Err(e))) => return Err(Failure::retry(&url, format!("the stream broke: {e}"))),
                Ok(Some(Ok(ev))) => ev,
            };
            if event.data.trim() == "[DONE]" {
                done = true;
                break;
            }
            let chunk: Chunk = serde_json::from_str(&event.data)
                .map_err(|e| Failure::fatal(http(&url, None, format!("an unreadable stream chunk ({e}): {}", event.data))))?;
            if let Some(err) = chunk.error {
                return Err(Failure::retry(&url, format!("the server failed mid-stream: {err}")));
            }
            usage = chunk.usage.or(usage);
            cached = chunk.timings.and_then(|t| t.cache_n).or(cached);
            let Some(choice) = chunk.choices.into_iter().next() else { continue };
            let delta = choice.delta.unwrap_or_default();
            let piece = choice.text.or(delta.content).unwrap_or_default();
            if !piece.is_empty() || !delta.tool_calls.is_empty() {
                let ms = tracker.step();
                if !delta.tool_calls.is_empty() {
                    delta.tool_calls.iter().for_each(|d| calls.push(d));
                    last_tool_ms = Some(ms);
                }
                if !piece.is_empty() {
                    tracker.push(&piece, ms);
                    content.push_str(&piece);
                    if !on_piece(&piece) {
                        return Err(Failure::fatal(EngineError::Canceled));
                    }
                }
            }
            finish = choice.finish_reason.or(finish);
            // The text rules (stop sequences, the stop after the calls); dropping the stream
            // closes the connection, which stops the server.
            if let Some(reason) = tracker.stop_reason(settings).filter(|r| *r != "length") {
                finish = Some(reason.into());
                break;
            }
        }
        let finish = match (finish, done) {
            (Some(f), _) => f,
            (None, true) => "stop".into(),
            (None, false) => {
                return Err(Failure::retry(&url, "the stream ended before the answer did (the server closed the connection)".into()));
            }
        };
        let usage = usage.unwrap_or_default();
        let cached = usage.prompt_tokens_details.as_ref().and_then(|d| d.cached_tokens).or(cached);
        let mut c = tracker.finish(&finish, settings, usage.prompt_tokens.unwrap_or(0), cached);
        if let Some(n) = usage.completion_tokens {
            c.timings.completion_tokens = Some(n);
        }
        if usage.prompt_tokens.is_none() {
            c.timings.prompt_tokens = None;
        }
        if let Call::Chat { .. } = call {
            c.text = calls.to_functiongemma(&content).map_err(|message| {
                Failure::fatal(EngineError::ServerParser { endpoint: url.clone(), message, raw: format!("{content}{calls:?}") })
            })?;
            if !calls.is_empty() {
                c.timings.last_call_ms = last_tool_ms;
            }
        }
        Ok(c)
    }
}

/// What one request sends.
enum Call<'a> {
    Raw(&'a str),
    Chat { messages: &'a [crate::dataset::Message], tools: &'a [Value] },
}

impl Engine for OpenAiEngine {
    fn info(&self) -> EngineInfo {
        self.info.clone()
    }

    fn generate_streaming(
        &self,
        prompt: &str,
        settings: &GenerationSettings,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, EngineError> {
        self.generate_request(&Request { prompt, conversation: None }, settings, on_piece)
    }

    fn generate_request(
        &self,
        request: &Request<'_>,
        settings: &GenerationSettings,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, EngineError> {
        if settings.max_new_tokens == 0 {
            return Ok(Completion::nothing(0));
        }
        let call = match (self.opts.mode, request.conversation) {
            (RemoteMode::Raw, _) => Call::Raw(request.prompt),
            (RemoteMode::Chat, Some((messages, tools))) => Call::Chat { messages, tools },
            (RemoteMode::Chat, None) => {
                return Err(EngineError::Unsupported(
                    "--remote-mode chat sends a case's messages and tools; this request has only a prompt".into(),
                ));
            }
        };
        self.run(call, settings, on_piece)
    }

    fn encode(&self, prompt: &str) -> Result<Vec<u32>, EngineError> {
        let base = &self.fleet.endpoints()[0].base;
        self.rt.block_on(self.tokenize(base, prompt)).map_err(|m| http(base, None, m))
    }

    fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        let base = &self.fleet.endpoints()[0].base;
        let body = json!({"tokens": ids});
        match self.rt.block_on(self.json_call(self.client.post(format!("{base}/detokenize")).json(&body))) {
            Ok((200, v)) => v["content"].as_str().map(String::from).ok_or_else(|| http(base, None, format!("/detokenize answered {v}"))),
            Ok((status, v)) => Err(http(base, Some(status), format!("/detokenize: {v}"))),
            Err(m) => Err(http(base, None, m)),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Write};
    use std::net::TcpListener;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// A keep-alive HTTP server that never closes a connection; counts the connections.
    fn keep_alive_server() -> (String, Arc<AtomicUsize>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut conn = conn;
                    let mut line = String::new();
                    while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
                        if line == "\r\n" {
                            let _ = conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");
                        }
                        line.clear();
                    }
                });
            }
        });
        (url, accepted)
    }

    #[test]
    fn connections_are_reused_but_not_past_the_servers_keep_alive() {
        let (url, accepted) = keep_alive_server();
        let client = http_client(Duration::from_secs(5)).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let get = || rt.block_on(async { client.get(&url).send().await.unwrap().text().await.unwrap() });
        assert_eq!(get(), "ok");
        assert_eq!(get(), "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "back to back: one connection");
        std::thread::sleep(POOL_IDLE + Duration::from_millis(500));
        assert_eq!(get(), "ok");
        assert_eq!(accepted.load(Ordering::SeqCst), 2, "idle past the pool's limit: a new connection");
    }
}
