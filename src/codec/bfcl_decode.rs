//! BFCL's FunctionGemma output decoder, ported statement for statement.
//!
//! BFCL (`bfcl_eval/model_handler/local_inference/functiongemma.py`) decodes model output
//! leniently: unterminated blocks are skipped, stray braces ignored, bare words become
//! strings. Verdicts must agree with BFCL's, so the scorer judges the calls this decoder
//! sees; the strict parser in `parse.rs` reports what is malformed on top of that.

use indexmap::IndexMap;

use super::parse::Call;
use super::tokens::{self, CALL_PREFIX, END_CALL, ESCAPE, START_CALL};
use super::value::{Value, py_strip};

/// Nesting beyond this stops the argument parser (Python would go on building; no real output
/// nests this deep, and a deeper tree would overflow the stack of the code that walks it).
const MAX_NESTING: usize = 256;

/// The calls BFCL's `decode_ast` returns for this output, in order.
pub fn decode(output: &str) -> Vec<Call> {
    let mut calls = Vec::new();
    let mut pos = 0;
    // re.findall(START(.*?)END, DOTALL): non-overlapping, shortest blocks.
    while let Some(s) = tokens::find(&output[pos..], START_CALL) {
        let body = pos + s + START_CALL.len();
        let Some(e) = tokens::find(&output[body..], END_CALL) else { break };
        let content = py_strip(&output[body..body + e]);
        pos = body + e + END_CALL.len();
        let Some(after_prefix) = content.strip_prefix(CALL_PREFIX) else { continue };
        match after_prefix.find('{') {
            None => calls.push(Call { name: py_strip(after_prefix).to_string(), args: IndexMap::new() }),
            Some(i) => {
                calls.push(Call { name: py_strip(&after_prefix[..i]).to_string(), args: ArgParser::default().parse(&after_prefix[i..]) })
            }
        }
    }
    calls
}

/// A container under construction; Python mutates containers after linking them into their
/// parent, so the port keeps them in an arena and links by index.
enum Node {
    List(Vec<Slot>),
    Dict(Vec<(String, Slot)>),
}

#[derive(Clone)]
enum Slot {
    Leaf(Value),
    Node(usize),
}

/// `_FunctionGemmaResponseParser`: a state machine over `{[:]},` and `<escape>` blocks.
#[derive(Default)]
struct ArgParser {
    nodes: Vec<Node>,
    root: Vec<Slot>,
    /// Open containers; `None` stands for the root list.
    stack: Vec<Option<usize>>,
    key_stack: Vec<Option<String>>,
    buffer: String,
    pending_key: Option<Slot>,
}

impl ArgParser {
    fn parse(mut self, text: &str) -> IndexMap<String, Value> {
        self.stack.push(None);
        let mut cursor = 0;
        while cursor < text.len() {
            if text[cursor..].starts_with(ESCAPE) {
                cursor = self.consume_escape_block(text, cursor);
                continue;
            }
            let Some(c) = text[cursor..].chars().next() else { break };
            if "{[:]},".contains(c) {
                if matches!(c, '{' | '[') && self.stack.len() > MAX_NESTING {
                    break;
                }
                self.commit_buffer();
                self.structure_char(c);
            } else {
                self.buffer.push(c);
            }
            cursor += c.len_utf8();
        }
        self.commit_buffer();
        match self.root.first() {
            Some(Slot::Node(i)) if matches!(self.nodes[*i], Node::Dict(_)) => match self.materialize(&Slot::Node(*i)) {
                Value::Dict(d) => d,
                _ => IndexMap::new(),
            },
            _ => IndexMap::new(),
        }
    }

    fn consume_escape_block(&mut self, text: &str, start: usize) -> usize {
        let content_start = start + ESCAPE.len();
        let (val, next) = match tokens::find(&text[content_start..], ESCAPE) {
            // Malformed: the rest, opening marker included, is the value.
            None => (text[start..].to_string(), text.len()),
            Some(i) => (text[content_start..content_start + i].to_string(), content_start + i + ESCAPE.len()),
        };
        if !self.buffer.is_empty() {
            self.commit_buffer();
        }
        self.add_value(Slot::Leaf(Value::Str(val)));
        next
    }

    fn top(&self) -> Option<usize> {
        *self.stack.last().expect("stack holds the root")
    }

    fn top_is_dict(&self) -> bool {
        matches!(self.top(), Some(i) if matches!(self.nodes[i], Node::Dict(_)))
    }

    fn new_node(&mut self, node: Node) -> usize {
        self.nodes.push(node);
        self.nodes.len() - 1
    }

    fn structure_char(&mut self, c: char) {
        match c {
            '{' => {
                let id = self.new_node(Node::Dict(Vec::new()));
                self.add_value(Slot::Node(id));
                self.stack.push(Some(id));
                self.key_stack.push(None);
                self.pending_key = None;
            }
            '}' => {
                if self.stack.len() > 1 {
                    self.stack.pop();
                    self.key_stack.pop();
                }
                self.pending_key = None;
            }
            '[' => {
                let id = self.new_node(Node::List(Vec::new()));
                self.add_value(Slot::Node(id));
                self.stack.push(Some(id));
                self.pending_key = None;
            }
            ']' => {
                if self.stack.len() > 1 {
                    self.stack.pop();
                }
                self.pending_key = None;
            }
            ':' => {
                let mut final_key = None;
                if !self.buffer.is_empty() {
                    final_key = Some(py_strip(&self.buffer).to_string());
                    self.buffer.clear();
                } else if let Some(pk) = self.pending_key.take() {
                    // Python tests `pending_key is not None`: a pending `null` is no key.
                    let pk = self.materialize(&pk);
                    if pk != Value::Null {
                        final_key = Some(pk.py_str());
                    }
                }
                if final_key.is_some() && self.top_is_dict() && !self.key_stack.is_empty() {
                    *self.key_stack.last_mut().expect("checked") = final_key;
                }
            }
            ',' => self.pending_key = None,
            _ => {}
        }
    }

    fn commit_buffer(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let raw = py_strip(&self.buffer).to_string();
        self.buffer.clear();
        if !raw.is_empty() {
            self.add_value(Slot::Leaf(parse_primitive(&raw)));
        }
    }

    fn add_value(&mut self, val: Slot) {
        match self.top() {
            None => self.root.push(val),
            Some(i) => {
                let current_key = self.key_stack.last().cloned().flatten();
                match &mut self.nodes[i] {
                    Node::List(items) => items.push(val),
                    Node::Dict(entries) => match current_key {
                        Some(key) => {
                            // Python dict assignment: replace in place or append.
                            match entries.iter_mut().find(|(k, _)| *k == key) {
                                Some(entry) => entry.1 = val,
                                None => entries.push((key, val)),
                            }
                            *self.key_stack.last_mut().expect("non-empty") = None;
                        }
                        None => self.pending_key = Some(val),
                    },
                }
            }
        }
    }

    /// Builds the value a slot refers to; a container linked into itself (impossible from
    /// text, since nodes only link to newer nodes) cannot loop.
    fn materialize(&self, slot: &Slot) -> Value {
        match slot {
            Slot::Leaf(v) => v.clone(),
            Slot::Node(i) => match &self.nodes[*i] {
                Node::List(items) => Value::List(items.iter().map(|s| self.materialize(s)).collect()),
                Node::Dict(entries) => Value::Dict(entries.iter().map(|(k, s)| (k.clone(), self.materialize(s))).collect()),
            },
        }
    }
}

/// `_parse_primitive`: null/true/false, then Python's `int()`, then `float()`, else a string.
fn parse_primitive(s: &str) -> Value {
    match s {
        "null" => return Value::Null,
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    if let Some(i) = py_int(s) {
        return i;
    }
    if let Some(f) = py_float(s) {
        return Value::Float(f);
    }
    Value::Str(s.to_string())
}

/// Removes underscores the way Python's numeric literals allow them: single, between digits.
fn strip_digit_underscores(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    for (i, &c) in b.iter().enumerate() {
        if c == b'_' {
            let ok = i > 0 && i + 1 < b.len() && b[i - 1].is_ascii_digit() && b[i + 1].is_ascii_digit();
            if !ok {
                return None;
            }
        } else {
            out.push(c as char);
        }
    }
    Some(out)
}

/// Python's `int(s)` for ASCII input (`s` is already stripped).
fn py_int(s: &str) -> Option<Value> {
    if !s.is_ascii() {
        return None;
    }
    let t = strip_digit_underscores(s)?;
    let digits = t.strip_prefix(['+', '-']).unwrap_or(&t);
    if digits.is_empty() || !digits.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    match t.parse::<i64>() {
        Ok(v) => Some(Value::Int(v)),
        // Python ints are unbounded; past i64 keep the magnitude as a float.
        Err(_) => t.parse::<f64>().ok().map(Value::Float),
    }
}

/// Python's `float(s)` for ASCII input: decimals, exponents, inf/infinity/nan.
fn py_float(s: &str) -> Option<f64> {
    if !s.is_ascii() {
        return None;
    }
    let t = strip_digit_underscores(s)?;
    let body = t.strip_prefix(['+', '-']).unwrap_or(&t).to_ascii_lowercase();
    let special = matches!(body.as_str(), "inf" | "infinity" | "nan");
    let numeric = !body.is_empty()
        && body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'+' | b'-'))
        && body.bytes().any(|c| c.is_ascii_digit());
    if !(special || numeric) {
        return None;
    }
    t.parse::<f64>().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(s: &str) -> Call {
        let out = format!("{START_CALL}{s}{END_CALL}");
        let mut calls = decode(&out);
        assert_eq!(calls.len(), 1, "{out}");
        calls.remove(0)
    }

    #[test]
    fn decodes_like_bfcl() {
        let c = one("call:f{a:<escape>x, y<escape>,b:1_000,c:1e3,d:paris,e:[1,<escape>z<escape>],g:{h:true}}");
        assert_eq!(c.name, "f");
        assert_eq!(c.args["a"], Value::Str("x, y".into()));
        assert_eq!(c.args["b"], Value::Int(1000));
        assert_eq!(c.args["c"], Value::Float(1000.0));
        assert_eq!(c.args["d"], Value::Str("paris".into()));
        assert_eq!(c.args["e"], Value::List(vec![Value::Int(1), Value::Str("z".into())]));
    }

    #[test]
    fn lenient_on_malformed_blocks() {
        // An unterminated block is not a call; a block without "call:" is skipped.
        assert!(decode(&format!("{START_CALL}call:f{{a:1}}")).is_empty());
        assert!(decode(&format!("{START_CALL}f{{}}{END_CALL}")).is_empty());
        // No argument object: a call with no arguments.
        assert_eq!(one("call: g ").name, "g");
        // Stray closing braces are ignored.
        assert_eq!(one("call:f{a:1}}}").args["a"], Value::Int(1));
        // Unterminated escape swallows the rest, marker included.
        assert_eq!(one("call:f{a:<escape>x}").args["a"], Value::Str("<escape>x}".into()));
        // Duplicate keys: the last wins, at the first position.
        assert_eq!(one("call:f{a:1,a:2}").args["a"], Value::Int(2));
    }

    #[test]
    fn python_number_rules() {
        assert_eq!(parse_primitive("+5"), Value::Int(5));
        assert_eq!(parse_primitive("007"), Value::Int(7));
        assert_eq!(parse_primitive("1_0.5"), Value::Float(10.5));
        assert_eq!(parse_primitive("_1"), Value::Str("_1".into()));
        assert_eq!(parse_primitive(".5"), Value::Float(0.5));
        assert!(matches!(parse_primitive("-inf"), Value::Float(f) if f == f64::NEG_INFINITY));
        assert_eq!(parse_primitive("1e"), Value::Str("1e".into()));
        assert_eq!(parse_primitive("True"), Value::Str("True".into()));
    }
}
