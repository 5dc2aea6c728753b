//! What a runtime's parser did to calls fgbench's parser read right.

use serde::{Deserialize, Serialize};

use crate::codec::{Call, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LossKind {
    /// The runtime returned no call at all (name rejected, no parser, the response failed).
    NoCalls,
    /// Fewer calls than fgbench read (a parallel call lost).
    LostCall,
    /// More calls than fgbench read.
    ExtraCall,
    /// A call's name came out differently.
    NameChanged,
    /// An argument fgbench read is missing.
    DroppedArgument,
    /// An argument appeared that the model did not write at that level.
    ExtraArgument,
    /// Same argument, another JSON type (a number kept as text, a string read as a number).
    TypeChanged,
    /// A list or object came back with fewer members.
    TruncatedValue,
    /// Same argument and type, another value.
    ValueChanged,
}

impl LossKind {
    pub fn name(self) -> &'static str {
        match self {
            LossKind::NoCalls => "no calls",
            LossKind::LostCall => "lost call",
            LossKind::ExtraCall => "extra call",
            LossKind::NameChanged => "name changed",
            LossKind::DroppedArgument => "dropped argument",
            LossKind::ExtraArgument => "extra argument",
            LossKind::TypeChanged => "type changed",
            LossKind::TruncatedValue => "truncated value",
            LossKind::ValueChanged => "value changed",
        }
    }

    /// The first thing that differs between fgbench's calls and the runtime's.
    pub fn of(ours: &[Call], theirs: &[Call]) -> LossKind {
        if theirs.is_empty() && !ours.is_empty() {
            return LossKind::NoCalls;
        }
        if theirs.len() != ours.len() {
            return if theirs.len() < ours.len() { LossKind::LostCall } else { LossKind::ExtraCall };
        }
        for (a, b) in ours.iter().zip(theirs) {
            if a.name != b.name {
                return LossKind::NameChanged;
            }
            if a.args.keys().any(|k| !b.args.contains_key(k)) {
                return LossKind::DroppedArgument;
            }
            if b.args.keys().any(|k| !a.args.contains_key(k)) {
                return LossKind::ExtraArgument;
            }
            for (k, va) in &a.args {
                if let Some(kind) = value_change(va, &b.args[k]) {
                    return kind;
                }
            }
        }
        // Equal calls judged differently cannot happen; call it a value change.
        LossKind::ValueChanged
    }
}

fn value_change(a: &Value, b: &Value) -> Option<LossKind> {
    if a == b && a.py_type() == b.py_type() {
        return None;
    }
    Some(match (a, b) {
        (Value::List(x), Value::List(y)) if y.len() < x.len() => LossKind::TruncatedValue,
        (Value::Dict(x), Value::Dict(y)) if y.len() < x.len() => LossKind::TruncatedValue,
        _ if a.py_type() != b.py_type() => LossKind::TypeChanged,
        _ => LossKind::ValueChanged,
    })
}
