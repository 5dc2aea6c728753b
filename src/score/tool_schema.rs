//! What BFCL's checker reads of a tool declaration: its name, each parameter's declared type
//! (and item type), and the required parameters. Descriptions and everything else are
//! skipped while parsing, which is most of a BFCL case's bytes.
//!
//! The reading is as lenient as looking the fields up in a JSON value tree: a field of the
//! wrong JSON type counts as absent, so a declaration yields the same schema whether it comes
//! from a case line or from a `serde_json::Value`.

use std::fmt;
use std::marker::PhantomData;

use indexmap::IndexMap;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

/// One tool declaration as the checker sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ToolSchema {
    /// `None` when the declaration has no string `name` (the case checks refuse it).
    pub name: Option<String>,
    /// `parameters.properties`, in declaration order.
    pub params: IndexMap<String, ParamSchema>,
    /// `parameters.required`, its strings.
    pub required: Vec<String>,
}

/// One declared parameter: `type` and `items.type`, `""` where absent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamSchema {
    pub declared: String,
    pub item_type: String,
}

impl ToolSchema {
    /// The schema of a declaration held as a value tree (the eval path's `Case::tools`).
    pub fn from_value(tool: &serde_json::Value) -> ToolSchema {
        ToolSchema::deserialize(tool).unwrap_or_default()
    }
}

impl<'de> Deserialize<'de> for ToolSchema {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let Lenient(raw) = Lenient::<RawFunction>::deserialize(d)?;
        let raw = raw.unwrap_or_default();
        // An OpenAI-style `{"type": "function", "function": {...}}` wrapper.
        let f = match raw.function.0 {
            Some(inner) => *inner,
            None => raw,
        };
        let params = f.parameters.0.unwrap_or_default();
        Ok(ToolSchema {
            name: f.name.0,
            params: params
                .properties
                .0
                .unwrap_or_default()
                .into_iter()
                .map(|(k, Lenient(p))| {
                    let p = p.unwrap_or_default();
                    let item_type = p.items.0.and_then(|i| i.kind.0).unwrap_or_default();
                    (k, ParamSchema { declared: p.kind.0.unwrap_or_default(), item_type })
                })
                .collect(),
            required: params.required.0.unwrap_or_default().into_iter().filter_map(|Lenient(s)| s).collect(),
        })
    }
}

#[derive(Default, Deserialize)]
struct RawFunction {
    #[serde(default)]
    name: Lenient<String>,
    #[serde(default)]
    parameters: Lenient<RawParameters>,
    #[serde(default)]
    function: Lenient<Box<RawFunction>>,
}

#[derive(Default, Deserialize)]
struct RawParameters {
    #[serde(default)]
    properties: Lenient<IndexMap<String, Lenient<RawParam>>>,
    #[serde(default)]
    required: Lenient<Vec<Lenient<String>>>,
}

#[derive(Default, Deserialize)]
struct RawParam {
    #[serde(default, rename = "type")]
    kind: Lenient<String>,
    #[serde(default)]
    items: Lenient<RawItems>,
}

#[derive(Default, Deserialize)]
struct RawItems {
    #[serde(default, rename = "type")]
    kind: Lenient<String>,
}

/// The JSON type a field must have to be read.
#[derive(PartialEq)]
enum Shape {
    Str,
    Seq,
    Map,
}

trait JsonShape {
    const SHAPE: Shape;
}

impl JsonShape for String {
    const SHAPE: Shape = Shape::Str;
}
impl<T> JsonShape for Vec<T> {
    const SHAPE: Shape = Shape::Seq;
}
impl<K, V> JsonShape for IndexMap<K, V> {
    const SHAPE: Shape = Shape::Map;
}
impl<T: JsonShape> JsonShape for Box<T> {
    const SHAPE: Shape = T::SHAPE;
}
impl JsonShape for RawFunction {
    const SHAPE: Shape = Shape::Map;
}
impl JsonShape for RawParameters {
    const SHAPE: Shape = Shape::Map;
}
impl JsonShape for RawParam {
    const SHAPE: Shape = Shape::Map;
}
impl JsonShape for RawItems {
    const SHAPE: Shape = Shape::Map;
}

/// A field read only when it has the JSON type `T` expects (string, array or object);
/// anything else is skipped and reads as `None`, as `Value::get(..).as_str()` would.
struct Lenient<T>(Option<T>);

impl<T> Default for Lenient<T> {
    fn default() -> Self {
        Lenient(None)
    }
}

impl<'de, T: Deserialize<'de> + JsonShape> Deserialize<'de> for Lenient<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(LenientVisitor(PhantomData))
    }
}

struct LenientVisitor<T>(PhantomData<T>);

impl<'de, T: Deserialize<'de> + JsonShape> Visitor<'de> for LenientVisitor<T> {
    type Value = Lenient<T>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        if T::SHAPE != Shape::Str {
            return Ok(Lenient(None));
        }
        T::deserialize(de::value::StrDeserializer::<E>::new(v)).map(|t| Lenient(Some(t)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        if T::SHAPE != Shape::Map {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Lenient(None));
        }
        T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Lenient(Some(t)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        if T::SHAPE != Shape::Seq {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Lenient(None));
        }
        T::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(|t| Lenient(Some(t)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
    fn visit_none<E>(self) -> Result<Self::Value, E> {
        Ok(Lenient(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn both_ways(tool: serde_json::Value) -> ToolSchema {
        let from_text: ToolSchema = serde_json::from_str(&tool.to_string()).unwrap();
        let from_value = ToolSchema::from_value(&tool);
        assert_eq!(from_text, from_value, "{tool}");
        from_value
    }

    #[test]
    fn reads_name_types_item_types_and_required_and_skips_the_rest() {
        let t = both_ways(json!({
            "name": "f", "description": "long text", "extra": [1, {"a": null}],
            "parameters": {"type": "dict", "properties": {
                "a": {"type": "string", "description": "x", "enum": ["p", "q"]},
                "b": {"type": "array", "items": {"type": "integer"}},
                "c": {"type": "dict", "properties": {"nested": {"type": "string"}}}
            }, "required": ["a", "b"]}
        }));
        assert_eq!(t.name.as_deref(), Some("f"));
        assert_eq!(t.params.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(t.params["a"], ParamSchema { declared: "string".into(), item_type: String::new() });
        assert_eq!(t.params["b"], ParamSchema { declared: "array".into(), item_type: "integer".into() });
        assert_eq!(t.params["c"].declared, "dict");
        assert_eq!(t.required, ["a", "b"]);
    }

    #[test]
    fn fields_of_the_wrong_json_type_read_as_absent_as_in_a_value_tree() {
        let t = both_ways(json!({
            "name": 3,
            "parameters": {"properties": {
                "a": {"type": ["string", "null"]},
                "b": {"type": "array", "items": "integer"},
                "c": "not an object",
                "d": {"type": {"nested": true}, "items": [1]}
            }, "required": ["a", 7, {"x": 1}, "d"]}
        }));
        assert_eq!(t.name, None);
        assert_eq!(t.params["a"].declared, "");
        assert_eq!(t.params["b"], ParamSchema { declared: "array".into(), item_type: String::new() });
        assert_eq!(t.params["c"], ParamSchema::default());
        assert_eq!(t.params["d"], ParamSchema::default());
        assert_eq!(t.required, ["a", "d"]);
        assert_eq!(both_ways(json!({"name": "g", "parameters": "none"})).params.len(), 0);
        assert_eq!(both_ways(json!({"name": "g", "parameters": {"properties": [1, 2]}})).params.len(), 0);
        assert_eq!(both_ways(json!("just a string")), ToolSchema::default());
        assert_eq!(both_ways(json!(null)), ToolSchema::default());
    }

    #[test]
    fn an_openai_function_wrapper_is_looked_through_unless_it_is_not_an_object() {
        let t = both_ways(json!({"type": "function", "function": {"name": "w", "parameters": {"properties": {"a": {"type": "float"}}}}}));
        assert_eq!(t.name.as_deref(), Some("w"));
        assert_eq!(t.params["a"].declared, "float");
        let t = both_ways(json!({"name": "outer", "function": "inner"}));
        assert_eq!(t.name.as_deref(), Some("outer"));
    }
}
