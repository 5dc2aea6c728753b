//! Prompt tokenization with the checkpoint's own `tokenizer.json`.
//!
//! fgbench renders the whole prompt (including `<bos>`) and sends token ids, so no chat
//! template or post-processor can add a second `<bos>` or rewrite the text. Control tokens
//! that the tokenizer defines (FunctionGemma's) become their single ids; a tokenizer without
//! them (base Gemma 3) splits the same text into ordinary pieces.

use std::path::Path;

use super::EngineError;
use crate::codec::tokens::{BOS, CONTROL_TOKENS};

pub struct PromptTokenizer {
    inner: tokenizers::Tokenizer,
    bos_id: Option<u32>,
}

impl PromptTokenizer {
    pub fn from_file(path: &Path) -> Result<PromptTokenizer, EngineError> {
        let inner = tokenizers::Tokenizer::from_file(path)
            .map_err(|e| EngineError::Tokenizer { path: path.display().to_string(), message: e.to_string() })?;
        let bos_id = inner.token_to_id(BOS);
        Ok(PromptTokenizer { inner, bos_id })
    }

    /// Token ids of a rendered prompt: exactly one leading `<bos>` when the vocabulary has one.
    pub fn encode(&self, prompt: &str) -> Result<Vec<u32>, EngineError> {
        let enc = self.inner.encode(prompt, false).map_err(|e| EngineError::Generate(format!("tokenize: {e}")))?;
        let mut ids = enc.get_ids().to_vec();
        if let Some(bos) = self.bos_id {
            while ids.len() > 1 && ids[0] == bos && ids[1] == bos {
                ids.remove(0);
            }
            if ids.first() != Some(&bos) {
                ids.insert(0, bos);
            }
        }
        Ok(ids)
    }

    pub fn decode(&self, ids: &[u32]) -> Result<String, EngineError> {
        self.inner.decode(ids, false).map_err(|e| EngineError::Generate(format!("detokenize: {e}")))
    }

    /// The id of a string that the vocabulary holds as one token.
    pub fn token_id(&self, text: &str) -> Option<u32> {
        self.inner.token_to_id(text)
    }

    /// Each FunctionGemma control token with its id, or `None` where this tokenizer splits it.
    pub fn control_token_ids(&self) -> Vec<(&'static str, Option<u32>)> {
        CONTROL_TOKENS.iter().map(|t| (*t, self.token_id(t))).collect()
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }
}
