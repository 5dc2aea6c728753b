//! The FunctionGemma wire format: prompt rendering and output parsing.

pub mod bfcl_decode;
pub mod parse;
pub mod render;
pub mod tokens;
pub mod value;

pub use parse::{Call, ParseError, ParseErrorKind, Parsed, parse};
pub use render::{render_call, render_prompt, render_value};
pub use value::Value;
