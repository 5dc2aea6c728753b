//! A scripted engine for unit tests of the layers above the engine (run loop, records,
//! resume). Never a substitute for the real path.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Completion, Engine, EngineError, EngineInfo, GenerationSettings};
use crate::records::Timings;

type Script = dyn Fn(&str) -> Result<String, EngineError> + Send + Sync;

pub struct MockEngine {
    script: Box<Script>,
    pub calls: AtomicUsize,
}

impl MockEngine {
    /// An engine that answers each prompt with `script(prompt)`.
    pub fn new(script: impl Fn(&str) -> Result<String, EngineError> + Send + Sync + 'static) -> MockEngine {
        MockEngine { script: Box::new(script), calls: AtomicUsize::new(0) }
    }
}

impl Engine for MockEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            engine: "mock".into(),
            engine_version: "0".into(),
            dtype: "none".into(),
            device: "none".into(),
            backend_feature: "none".into(),
            max_sequences: 1,
            ..Default::default()
        }
    }

    /// The scripted answer, delivered as one piece.
    fn generate_streaming(
        &self,
        prompt: &str,
        _settings: &GenerationSettings,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, EngineError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let text = (self.script)(prompt)?;
        if !on_piece(&text) {
            return Err(EngineError::Canceled);
        }
        let n = text.len() as u64 / 4 + 1;
        Ok(Completion {
            text,
            finish_reason: "stop".into(),
            timings: Timings {
                prompt_tokens: Some(prompt.len() as u64 / 4),
                completion_tokens: Some(n),
                ttft_ms: Some(1.0),
                last_call_ms: None,
                total_ms: Some(1.0 + n as f64),
                cached_tokens: None,
                call_start_p: None,
            },
        })
    }

    /// One id per byte: enough for the layers above to count and split tokens.
    fn encode(&self, prompt: &str) -> Result<Vec<u32>, EngineError> {
        Ok(prompt.bytes().map(u32::from).collect())
    }

    fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        Ok(String::from_utf8_lossy(&ids.iter().map(|&i| i as u8).collect::<Vec<u8>>()).into_owned())
    }
}

/// Streams its prompt back in pieces, `delay` apart: a model-free engine for exercising the
/// serving protocol (streaming order, cancel, disconnects, shutdown). `fgbench serve`
/// offers it as the model source `mock:echo[:DELAY_MS]`. A prompt containing
/// [`EchoEngine::CRASH`] makes it panic, as an engine bug would (tests of the server's guard).
pub struct EchoEngine {
    pub delay: std::time::Duration,
    pub chunk: usize,
}

impl EchoEngine {
    pub const CRASH: &'static str = "<<fgbench-echo-crash>>";
}

impl Engine for EchoEngine {
    fn info(&self) -> EngineInfo {
        EngineInfo {
            engine: "mock-echo".into(),
            engine_version: "0".into(),
            dtype: "none".into(),
            device: "none".into(),
            backend_feature: "none".into(),
            max_sequences: usize::MAX,
            ..Default::default()
        }
    }

    fn generate_streaming(
        &self,
        prompt: &str,
        settings: &GenerationSettings,
        on_piece: &mut dyn FnMut(&str) -> bool,
    ) -> Result<Completion, EngineError> {
        if prompt.contains(Self::CRASH) {
            panic!("the echo engine was asked to crash");
        }
        if settings.max_new_tokens == 0 {
            return Ok(Completion::nothing(prompt.chars().count()));
        }
        let start = std::time::Instant::now();
        let chars: Vec<char> = prompt.chars().collect();
        let mut ttft = None;
        for piece in chars.chunks(self.chunk.max(1)) {
            std::thread::sleep(self.delay);
            ttft.get_or_insert(start.elapsed().as_secs_f64() * 1000.0);
            if !on_piece(&piece.iter().collect::<String>()) {
                return Err(EngineError::Canceled);
            }
        }
        let n = chars.len().div_ceil(self.chunk.max(1)) as u64;
        Ok(Completion {
            text: prompt.to_string(),
            finish_reason: "stop".into(),
            timings: Timings {
                prompt_tokens: Some(chars.len() as u64),
                completion_tokens: Some(n),
                ttft_ms: ttft,
                last_call_ms: None,
                total_ms: Some(start.elapsed().as_secs_f64() * 1000.0),
                cached_tokens: None,
                call_start_p: None,
            },
        })
    }

    fn encode(&self, prompt: &str) -> Result<Vec<u32>, EngineError> {
        Ok(prompt.chars().map(u32::from).collect())
    }

    fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        Ok(ids.iter().filter_map(|&i| char::from_u32(i)).collect())
    }
}
