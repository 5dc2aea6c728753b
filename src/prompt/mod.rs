//! Prompts: a conversation and its tools rendered as the model sees them, in Google's chat
//! template (`render`) or BFCL's port of it (`render_bfcl`), over the wire syntax of
//! `crate::codec`.

pub mod render;
pub mod render_bfcl;
pub mod render_ollama;
mod schema;

pub use render::{render_declaration, render_prompt, render_tool_call};
use serde::{Deserialize, Serialize};

/// Which rendering of a case the model sees; recorded in every run manifest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum PromptStyle {
    /// Google's FunctionGemma chat template (how the model is meant to be used).
    #[default]
    Official,
    /// BFCL's FunctionGemma handler, byte for byte (leaderboard parity).
    Bfcl,
    /// Ollama's FunctionGemma renderer (its activation sentence; properties keep only
    /// description and type), to score a checkpoint as Ollama prompts it.
    Ollama,
}

impl PromptStyle {
    pub fn name(self) -> &'static str {
        match self {
            PromptStyle::Official => "official",
            PromptStyle::Bfcl => "bfcl",
            PromptStyle::Ollama => "ollama",
        }
    }

    /// The prompt text for a conversation with tools in this style.
    pub fn render(self, messages: &[crate::dataset::Message], tools: &[serde_json::Value]) -> String {
        match self {
            PromptStyle::Official => render_prompt(messages, tools),
            PromptStyle::Bfcl => render_bfcl::render_prompt_bfcl(messages, tools, render_bfcl::PYTHON_HINT),
            PromptStyle::Ollama => render_ollama::render_prompt_ollama(messages, tools),
        }
    }
}
