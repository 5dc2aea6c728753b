//! The FunctionGemma wire format: control tokens, values and calls as the model writes them,
//! the strict parser and BFCL's decoder. Prompts are rendered above it, in `crate::prompt`.

pub mod bfcl_decode;
pub mod parse;
pub mod render;
pub mod tokens;
pub mod value;

pub use parse::{Call, ParseError, ParseErrorKind, Parsed, parse};
pub use render::{render_call, render_value};
pub use value::Value;
