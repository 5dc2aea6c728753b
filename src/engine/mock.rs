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
        EngineInfo { engine: "mock".into(), engine_version: "0".into(), dtype: "none".into(), device: "none".into(), backend_feature: "none".into(), max_sequences: 1, ..Default::default() }
    }

    fn generate(&self, prompt: &str, _settings: &GenerationSettings) -> Result<Completion, EngineError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let text = (self.script)(prompt)?;
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
