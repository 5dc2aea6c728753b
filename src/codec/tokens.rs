//! FunctionGemma control tokens and fixed strings: the one place the wire format's literals live.

pub const BOS: &str = "<bos>";
pub const START_TURN: &str = "<start_of_turn>";
pub const END_TURN: &str = "<end_of_turn>";
pub const ESCAPE: &str = "<escape>";
pub const START_DECL: &str = "<start_function_declaration>";
pub const END_DECL: &str = "<end_function_declaration>";
pub const START_CALL: &str = "<start_function_call>";
pub const END_CALL: &str = "<end_function_call>";
pub const START_RESPONSE: &str = "<start_function_response>";
pub const END_RESPONSE: &str = "<end_function_response>";
pub const EOS: &str = "<eos>";

pub const CALL_PREFIX: &str = "call:";
pub const DECLARATION_PREFIX: &str = "declaration:";
pub const RESPONSE_PREFIX: &str = "response:";

/// The documented trigger sentence of the developer turn (no trailing period or newline).
pub const TRIGGER: &str = "You are a model that can do function calling with the following functions";

/// Every control token the FunctionGemma tokenizer defines as a single added token.
pub const CONTROL_TOKENS: [&str; 7] = [START_DECL, END_DECL, START_CALL, END_CALL, START_RESPONSE, END_RESPONSE, ESCAPE];

/// Stop sequences an engine should honour (besides the tokenizer's eos).
pub const STOP_SEQUENCES: [&str; 2] = [END_TURN, START_RESPONSE];

/// Where `marker` first occurs in `text` (memchr's substring search: `str::find` sets up a
/// two-way searcher at every call, which the scorer's inner loop paid for).
pub fn find(text: &str, marker: &str) -> Option<usize> {
    memchr::memmem::find(text.as_bytes(), marker.as_bytes())
}
