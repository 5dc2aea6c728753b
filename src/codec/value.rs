//! Argument values as the model writes them, with Python's comparison semantics.
//!
//! BFCL's checker is Python: `1 == 1.0 == True`, `type(True) is not int`, ints are not floats.
//! The scorer needs exactly those rules, so values keep their Python type (int vs float vs
//! bool) instead of collapsing into JSON numbers.

use indexmap::IndexMap;
use serde::de::{self, Deserializer};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    Dict(IndexMap<String, Value>),
}

/// Python's `type(x)` for the values the checker sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PyType {
    NoneType,
    Bool,
    Int,
    Float,
    Str,
    List,
    Dict,
}

impl PyType {
    pub fn name(self) -> &'static str {
        match self {
            PyType::NoneType => "NoneType",
            PyType::Bool => "bool",
            PyType::Int => "int",
            PyType::Float => "float",
            PyType::Str => "str",
            PyType::List => "list",
            PyType::Dict => "dict",
        }
    }
}

impl Value {
    pub fn py_type(&self) -> PyType {
        match self {
            Value::Null => PyType::NoneType,
            Value::Bool(_) => PyType::Bool,
            Value::Int(_) => PyType::Int,
            Value::Float(_) => PyType::Float,
            Value::Str(_) => PyType::Str,
            Value::List(_) => PyType::List,
            Value::Dict(_) => PyType::Dict,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// True for the empty string, BFCL's marker of "this optional parameter may be absent".
    pub fn is_empty_str(&self) -> bool {
        matches!(self, Value::Str(s) if s.is_empty())
    }

    /// Python's `a == b`.
    pub fn py_eq(&self, other: &Value) -> bool {
        use Value::*;
        match (self, other) {
            (Null, Null) => true,
            (Str(a), Str(b)) => a == b,
            (List(a), List(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.py_eq(y)),
            (Dict(a), Dict(b)) => a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| v.py_eq(w))),
            _ => match (self.as_exact_int(), other.as_exact_int()) {
                (Some(a), Some(b)) => a == b,
                _ => match (self.as_number(), other.as_number()) {
                    (Some(a), Some(b)) => a == b,
                    _ => false,
                },
            },
        }
    }

    /// Python's `self in items` (membership by `==`).
    pub fn py_in(&self, items: &[Value]) -> bool {
        items.iter().any(|x| self.py_eq(x))
    }

    fn as_exact_int(&self) -> Option<i64> {
        match self {
            Value::Bool(b) => Some(*b as i64),
            Value::Int(i) => Some(*i),
            _ => None,
        }
    }

    fn as_number(&self) -> Option<f64> {
        match self {
            Value::Bool(b) => Some(*b as i64 as f64),
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }

    /// The elements Python's `for x in value` visits: list items, a string's characters,
    /// a dict's keys; nothing for scalars (where Python would raise, the checker treats the
    /// value as holding no accepted answers).
    pub fn py_iter(&self) -> Vec<Value> {
        match self {
            Value::List(items) => items.clone(),
            Value::Str(s) => s.chars().map(|c| Value::Str(c.to_string())).collect(),
            Value::Dict(d) => d.keys().map(|k| Value::Str(k.clone())).collect(),
            _ => Vec::new(),
        }
    }

    /// Python's `str(x)` for scalars and `repr`-like text for containers.
    pub fn py_str(&self) -> String {
        match self {
            Value::Null => "None".into(),
            Value::Bool(true) => "True".into(),
            Value::Bool(false) => "False".into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => py_float_repr(*f),
            Value::Str(s) => s.clone(),
            Value::List(_) | Value::Dict(_) => self.py_repr(),
        }
    }

    /// Python's `repr(x)` (close enough for error messages and dict keys made of containers).
    pub fn py_repr(&self) -> String {
        match self {
            Value::Str(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            Value::List(items) => {
                let inner: Vec<String> = items.iter().map(Value::py_repr).collect();
                format!("[{}]", inner.join(", "))
            }
            Value::Dict(d) => {
                let inner: Vec<String> = d.iter().map(|(k, v)| format!("{}: {}", Value::Str(k.clone()).py_repr(), v.py_repr())).collect();
                format!("{{{}}}", inner.join(", "))
            }
            other => other.py_str(),
        }
    }

    /// Converts a JSON value, keeping integers as integers.
    pub fn from_json(v: &serde_json::Value) -> Value {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => Value::List(a.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(o) => Value::Dict(o.iter().map(|(k, v)| (k.clone(), Value::from_json(v))).collect()),
        }
    }

    pub fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or(serde_json::Value::Null)
    }
}

/// Python's `str.isspace()` (a superset of Rust's: it adds the ASCII separators 0x1C-0x1F).
fn py_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `str.strip()`.
pub fn py_strip(s: &str) -> &str {
    s.trim_matches(py_space)
}

/// Python's float repr: the shortest digits that round-trip, in fixed notation for
/// exponents -4..16 (always with a `.0` when integral) and `1e-05` / `1e+16` style otherwise.
pub fn py_float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').expect("{:e} has an exponent");
    let exp: i32 = exp.parse().expect("integer exponent");
    let (sign, mantissa) = mantissa.strip_prefix('-').map_or(("", mantissa), |m| ("-", m));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if (-4..16).contains(&exp) {
        let point = exp + 1;
        let body = if point <= 0 {
            format!("0.{}{digits}", "0".repeat((-point) as usize))
        } else if point as usize >= digits.len() {
            format!("{digits}{}.0", "0".repeat(point as usize - digits.len()))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        format!("{sign}{body}")
    } else {
        let frac = if digits.len() > 1 { format!("{}.{}", &digits[..1], &digits[1..]) } else { digits };
        format!("{sign}{frac}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => s.serialize_unit(),
            Value::Bool(b) => s.serialize_bool(*b),
            Value::Int(i) => s.serialize_i64(*i),
            // JSON has no NaN or infinity: keep them readable as strings.
            Value::Float(f) if !f.is_finite() => s.serialize_str(&py_float_repr(*f)),
            Value::Float(f) => s.serialize_f64(*f),
            Value::Str(x) => s.serialize_str(x),
            Value::List(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Value::Dict(d) => {
                let mut map = s.serialize_map(Some(d.len()))?;
                for (k, v) in d {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let json = serde_json::Value::deserialize(d).map_err(de::Error::custom)?;
        Ok(Value::from_json(&json))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_equality_across_numeric_types() {
        assert!(Value::Int(1).py_eq(&Value::Float(1.0)));
        assert!(Value::Bool(true).py_eq(&Value::Int(1)));
        assert!(!Value::Int(1).py_eq(&Value::Str("1".into())));
        assert!(!Value::Float(f64::NAN).py_eq(&Value::Float(f64::NAN)));
        let a = Value::List(vec![Value::Int(1), Value::Float(2.0)]);
        let b = Value::List(vec![Value::Float(1.0), Value::Int(2)]);
        assert!(a.py_eq(&b));
    }

    #[test]
    fn json_round_trip_keeps_int_and_float_apart() {
        let v: Value = serde_json::from_str(r#"{"a":1,"b":1.0,"c":[true,null,"x"]}"#).unwrap();
        let Value::Dict(d) = &v else { panic!("not a dict") };
        assert_eq!(d["a"], Value::Int(1));
        assert_eq!(d["b"], Value::Float(1.0));
        assert_eq!(serde_json::to_string(&v).unwrap(), r#"{"a":1,"b":1.0,"c":[true,null,"x"]}"#);
    }

    #[test]
    fn float_repr_matches_python() {
        // Expected strings are Python's repr() of the same floats.
        for (f, py) in [
            (1.0, "1.0"),
            (0.1, "0.1"),
            (-2.5, "-2.5"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1e16, "1e+16"),
            (1234567890123456.0, "1234567890123456.0"),
            (1.5e-7, "1.5e-07"),
            (123.456, "123.456"),
            (-0.0, "-0.0"),
            (1e22, "1e+22"),
            (2.5e-300, "2.5e-300"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(py_float_repr(f), py, "{f}");
        }
    }
}
