//! Strict parser of model output: raw completion text -> ordered calls, or a typed error that
//! says what is malformed and at which byte.
//!
//! Grammar (whitespace between tokens is allowed):
//!   output  := text (call text)*
//!   call    := START_CALL "call:" NAME "{" members? "}" END_CALL
//!   members := key ":" value ("," key ":" value)*
//!   key     := bare word | ESCAPE text ESCAPE
//!   value   := ESCAPE text ESCAPE | number | true | false | null | "[" values? "]" | "{" members? "}"
//!
//! A call block runs from START_CALL to the first END_CALL after it, as in BFCL's decoder.
//! Parsing is one forward pass with bounded nesting, so it cannot hang or overflow the stack.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::tokens::{self, CALL_PREFIX, END_CALL, ESCAPE, START_CALL};
use super::value::Value;

/// Deeper nesting than this is rejected rather than recursed into.
const MAX_DEPTH: usize = 64;

/// One function call as the model wrote it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Call {
    pub name: String,
    pub args: IndexMap<String, Value>,
}

/// Everything a completion holds: the calls in order and the prose around them.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Parsed {
    pub calls: Vec<Call>,
    /// Text before the first call (the whole text when there is no call).
    pub text_before: String,
    /// Text after the first call that is not part of a call.
    pub text_after: String,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParseErrorKind {
    #[error("unterminated call (no {END_CALL} before the end of the output or the next call)")]
    UnterminatedCall,
    #[error("{END_CALL} without a matching {START_CALL}")]
    StrayEndCall,
    #[error("call block does not start with `call:`")]
    MissingCallPrefix,
    #[error("call has no function name")]
    MissingName,
    #[error("call `{0}` has no argument object `{{...}}`")]
    MissingArguments(String),
    #[error("unterminated {ESCAPE} string")]
    UnterminatedEscape,
    #[error("unbalanced braces: `{0}` is never closed")]
    Unclosed(char),
    #[error("unbalanced braces: unexpected `{0}`")]
    UnexpectedClose(char),
    #[error("expected a key")]
    ExpectedKey,
    #[error("expected `:` after key `{0}`")]
    ExpectedColon(String),
    #[error("expected a value")]
    ExpectedValue,
    #[error("expected `,` or `{0}`")]
    ExpectedCommaOr(char),
    #[error("bad number `{0}`")]
    BadNumber(String),
    #[error("bare word `{0}` is not a value (strings must be wrapped in {ESCAPE})")]
    BareWord(String),
    #[error("duplicate key `{0}`")]
    DuplicateKey(String),
    #[error("unexpected text after the arguments of the call")]
    TrailingText,
    #[error("nesting deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// A malformed output: what is wrong and the byte offset in the completion text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{kind} at byte {offset}")]
pub struct ParseError {
    pub kind: ParseErrorKind,
    pub offset: usize,
}

fn err<T>(kind: ParseErrorKind, offset: usize) -> Result<T, ParseError> {
    Err(ParseError { kind, offset })
}

/// Parses a raw completion into its calls and surrounding text.
pub fn parse(output: &str) -> Result<Parsed, ParseError> {
    let mut parsed = Parsed::default();
    let mut pos = 0;
    loop {
        let rest = &output[pos..];
        let next_start = tokens::find(rest, START_CALL).map(|i| pos + i);
        let next_end = tokens::find(rest, END_CALL).map(|i| pos + i);
        if let Some(end) = next_end
            && next_start.is_none_or(|s| end < s)
        {
            return err(ParseErrorKind::StrayEndCall, end);
        }
        let Some(start) = next_start else {
            push_text(&mut parsed, &output[pos..]);
            return Ok(parsed);
        };
        push_text(&mut parsed, &output[pos..start]);
        let body = start + START_CALL.len();
        let end = match tokens::find(&output[body..], END_CALL) {
            Some(i) => body + i,
            None => return err(ParseErrorKind::UnterminatedCall, start),
        };
        if tokens::find(&output[body..end], START_CALL).is_some() {
            return err(ParseErrorKind::UnterminatedCall, start);
        }
        parsed.calls.push(parse_call(output, body, end)?);
        pos = end + END_CALL.len();
    }
}

fn push_text(parsed: &mut Parsed, text: &str) {
    if parsed.calls.is_empty() {
        parsed.text_before.push_str(text);
    } else {
        parsed.text_after.push_str(text);
    }
}

/// Parses `call:NAME{...}` in `output[start..end]` (the block between the call markers).
fn parse_call(output: &str, start: usize, end: usize) -> Result<Call, ParseError> {
    let mut cur = Cursor { text: &output[..end], pos: start, depth: 0 };
    cur.skip_ws();
    if !cur.rest().starts_with(CALL_PREFIX) {
        return err(ParseErrorKind::MissingCallPrefix, cur.pos);
    }
    cur.pos += CALL_PREFIX.len();
    let name_start = cur.pos;
    let name = cur.take_word().to_string();
    if name.is_empty() {
        return err(ParseErrorKind::MissingName, name_start);
    }
    cur.skip_ws();
    match cur.peek() {
        Some('{') => {}
        None => return err(ParseErrorKind::MissingArguments(name), cur.pos),
        Some(_) => return err(ParseErrorKind::MissingArguments(name), cur.pos),
    }
    let args = cur.object()?;
    cur.skip_ws();
    if cur.pos < end {
        return err(ParseErrorKind::TrailingText, cur.pos);
    }
    Ok(Call { name, args })
}

/// Characters that end a bare word (a name, key, number or literal).
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '{' | '}' | '[' | ']' | ':' | ',' | '<')
}

struct Cursor<'a> {
    /// The output up to the end of the current call block.
    text: &'a str,
    pos: usize,
    depth: usize,
}

impl<'a> Cursor<'a> {
    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn skip_ws(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
    }

    fn take_word(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest.find(ends_word).unwrap_or(rest.len());
        self.pos += len;
        &rest[..len]
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(ParseErrorKind::TooDeep, self.pos);
        }
        Ok(())
    }

    /// `<escape>text<escape>`, the cursor on the opening marker.
    fn escaped(&mut self) -> Result<String, ParseError> {
        let open = self.pos;
        self.pos += ESCAPE.len();
        match tokens::find(self.rest(), ESCAPE) {
            Some(len) => {
                let s = self.rest()[..len].to_string();
                self.pos += len + ESCAPE.len();
                Ok(s)
            }
            None => err(ParseErrorKind::UnterminatedEscape, open),
        }
    }

    /// `{k:v,...}`, the cursor on `{`.
    fn object(&mut self) -> Result<IndexMap<String, Value>, ParseError> {
        let open = self.pos;
        self.enter()?;
        self.pos += 1;
        let mut map = IndexMap::new();
        self.skip_ws();
        if self.peek() == Some('}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(map);
        }
        loop {
            self.skip_ws();
            let key_at = self.pos;
            let key = if self.rest().starts_with(ESCAPE) {
                self.escaped()?
            } else {
                let w = self.take_word();
                if w.is_empty() {
                    return match self.peek() {
                        None => err(ParseErrorKind::Unclosed('{'), open),
                        Some(c @ (']' | '}')) => err(ParseErrorKind::UnexpectedClose(c), self.pos),
                        Some(_) => err(ParseErrorKind::ExpectedKey, self.pos),
                    };
                }
                w.to_string()
            };
            self.skip_ws();
            if self.peek() != Some(':') {
                return err(ParseErrorKind::ExpectedColon(key), self.pos);
            }
            self.pos += 1;
            let value = self.value()?;
            if map.contains_key(&key) {
                return err(ParseErrorKind::DuplicateKey(key), key_at);
            }
            map.insert(key, value);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some('}') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(map);
                }
                Some(']') => return err(ParseErrorKind::UnexpectedClose(']'), self.pos),
                None => return err(ParseErrorKind::Unclosed('{'), open),
                Some(_) => return err(ParseErrorKind::ExpectedCommaOr('}'), self.pos),
            }
        }
    }

    /// `[v,...]`, the cursor on `[`.
    fn list(&mut self) -> Result<Vec<Value>, ParseError> {
        let open = self.pos;
        self.enter()?;
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(']') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(items);
        }
        loop {
            if self.rest().trim_start().is_empty() {
                return err(ParseErrorKind::Unclosed('['), open);
            }
            items.push(self.value()?);
            self.skip_ws();
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(']') => {
                    self.pos += 1;
                    self.depth -= 1;
                    return Ok(items);
                }
                Some('}') => return err(ParseErrorKind::UnexpectedClose('}'), self.pos),
                None => return err(ParseErrorKind::Unclosed('['), open),
                Some(_) => return err(ParseErrorKind::ExpectedCommaOr(']'), self.pos),
            }
        }
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        self.skip_ws();
        if self.rest().starts_with(ESCAPE) {
            return Ok(Value::Str(self.escaped()?));
        }
        match self.peek() {
            Some('{') => return Ok(Value::Dict(self.object()?)),
            Some('[') => return Ok(Value::List(self.list()?)),
            Some(c @ ('}' | ']')) => return err(ParseErrorKind::UnexpectedClose(c), self.pos),
            _ => {}
        }
        let at = self.pos;
        let word = self.take_word();
        match word {
            "" => err(ParseErrorKind::ExpectedValue, at),
            "null" => Ok(Value::Null),
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            w if w.starts_with(|c: char| c == '-' || c.is_ascii_digit()) => {
                parse_number(w).ok_or_else(|| ParseError { kind: ParseErrorKind::BadNumber(w.to_string()), offset: at })
            }
            w => err(ParseErrorKind::BareWord(w.to_string()), at),
        }
    }
}

/// JSON number grammar; integers stay integers (those past i64 become floats).
fn parse_number(w: &str) -> Option<Value> {
    let b = w.as_bytes();
    let mut i = usize::from(b.first() == Some(&b'-'));
    let digits = |i: &mut usize| {
        let s = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - s
    };
    let int_start = i;
    let n = digits(&mut i);
    if n == 0 || (n > 1 && b[int_start] == b'0') {
        return None;
    }
    let mut is_float = false;
    if i < b.len() && b[i] == b'.' {
        i += 1;
        is_float = true;
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        is_float = true;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return None;
        }
    }
    if i != b.len() {
        return None;
    }
    if !is_float && let Ok(v) = w.parse::<i64>() {
        return Some(Value::Int(v));
    }
    w.parse::<f64>().ok().map(Value::Float)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(s: &str) -> String {
        format!("{START_CALL}{s}{END_CALL}")
    }

    #[test]
    fn parses_calls_and_text() {
        let out = format!(
            "Sure. {}{} done",
            call("call:get_weather{city:<escape>Paris, \"FR\"<escape>,days:3,metric:true}"),
            call("call:f{x:[1,2.5,null],o:{k:<escape>v<escape>}}")
        );
        let p = parse(&out).unwrap();
        assert_eq!(p.text_before, "Sure. ");
        assert_eq!(p.text_after, " done");
        assert_eq!(p.calls.len(), 2);
        assert_eq!(p.calls[0].name, "get_weather");
        assert_eq!(p.calls[0].args["city"], Value::Str("Paris, \"FR\"".into()));
        assert_eq!(p.calls[0].args["days"], Value::Int(3));
        assert_eq!(p.calls[0].args["metric"], Value::Bool(true));
        assert_eq!(p.calls[1].args["x"], Value::List(vec![Value::Int(1), Value::Float(2.5), Value::Null]));
    }

    #[test]
    fn no_call_is_all_text() {
        let p = parse("I cannot help with that.").unwrap();
        assert!(p.calls.is_empty());
        assert_eq!(p.text_before, "I cannot help with that.");
    }

    fn kind(out: &str) -> (ParseErrorKind, usize) {
        let e = parse(out).unwrap_err();
        (e.kind, e.offset)
    }

    #[test]
    fn typed_errors_with_offsets() {
        let s = START_CALL.len();
        assert_eq!(kind(&format!("{START_CALL}call:f{{a:1}}")), (ParseErrorKind::UnterminatedCall, 0));
        assert_eq!(kind(&call("call:f{a:<escape>x}")).0, ParseErrorKind::UnterminatedEscape);
        assert_eq!(kind(&call("call:f{a:{b:1}")), (ParseErrorKind::Unclosed('{'), s + 6));
        assert_eq!(kind(&call("call:f{a:1}}")), (ParseErrorKind::TrailingText, s + 11));
        assert_eq!(kind(&call("call:f{a:1.}")).0, ParseErrorKind::BadNumber("1.".into()));
        assert_eq!(kind(&call("call:f{a:1,a:2}")), (ParseErrorKind::DuplicateKey("a".into()), s + 11));
        assert_eq!(kind(&call("call:{a:1}")).0, ParseErrorKind::MissingName);
        assert_eq!(kind(&call("f{a:1}")).0, ParseErrorKind::MissingCallPrefix);
        assert_eq!(kind(&call("call:f")).0, ParseErrorKind::MissingArguments("f".into()));
        assert_eq!(kind(&call("call:f{a:paris}")).0, ParseErrorKind::BareWord("paris".into()));
        assert_eq!(kind(&call("call:f{a:[1,2}")).0, ParseErrorKind::UnexpectedClose('}'));
        assert_eq!(kind(&format!("x{END_CALL}")), (ParseErrorKind::StrayEndCall, 1));
        let deep = format!("call:f{{a:{}1{}}}", "[".repeat(100), "]".repeat(100));
        assert_eq!(kind(&call(&deep)).0, ParseErrorKind::TooDeep);
    }

    #[test]
    fn numbers_keep_their_type() {
        assert_eq!(parse_number("42"), Some(Value::Int(42)));
        assert_eq!(parse_number("-0.5"), Some(Value::Float(-0.5)));
        assert_eq!(parse_number("1e3"), Some(Value::Float(1000.0)));
        assert_eq!(parse_number("99999999999999999999"), Some(Value::Float(1e20)));
        assert_eq!(parse_number("01"), None);
        assert_eq!(parse_number("-"), None);
    }
}
