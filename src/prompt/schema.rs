//! Tool-parameter schemas in the FunctionGemma declaration syntax, shared by both prompt
//! styles (Google's template and BFCL's port of it differ only in how type names are
//! written and in a null `enum`). Keys come sorted, schema keywords in alphabetical order.

pub(crate) use crate::codec::render::escaped;
use crate::codec::render::format_value;
use crate::codec::value::Value;

/// Property names the template treats as schema keywords and never declares.
const SKIPPED_PROPERTY_NAMES: [&str; 5] = ["description", "type", "properties", "required", "nullable"];

/// How a style writes schemas.
pub(crate) struct SchemaStyle {
    /// A declared type name as written in the prompt.
    pub type_name: fn(&str) -> String,
    /// Whether an `enum` whose value is null is still written (`enum:null`).
    pub null_enum: bool,
}

/// A JSON value as Python's `str()` would print it into the template ("" for null/absent).
pub(crate) fn json_str(v: Option<&serde_json::Value>) -> String {
    match v {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => Value::from_json(other).py_str(),
    }
}

/// Python truthiness of a JSON value (`if value:`).
pub(crate) fn truthy(v: Option<&serde_json::Value>) -> bool {
    match v {
        None | Some(serde_json::Value::Null) => false,
        Some(serde_json::Value::Bool(b)) => *b,
        Some(serde_json::Value::String(s)) => !s.is_empty(),
        Some(serde_json::Value::Array(a)) => !a.is_empty(),
        Some(serde_json::Value::Object(o)) => !o.is_empty(),
        Some(serde_json::Value::Number(n)) => n.as_f64() != Some(0.0),
    }
}

/// `[<escape>a<escape>,...]`
pub(crate) fn required_list(v: &serde_json::Value) -> String {
    let items: Vec<String> = v.as_array().into_iter().flatten().map(|r| escaped(&json_str(Some(r)))).collect();
    format!("[{}]", items.join(","))
}

/// The properties of an object schema, sorted by name, schema-keyword names skipped.
pub(crate) fn properties(style: &SchemaStyle, props: &serde_json::Value) -> String {
    let Some(map) = props.as_object() else { return String::new() };
    let mut names: Vec<&String> = map.keys().collect();
    names.sort();
    names
        .into_iter()
        .filter(|n| !SKIPPED_PROPERTY_NAMES.contains(&n.as_str()))
        .map(|n| property(style, n, &map[n]))
        .collect::<Vec<_>>()
        .join(",")
}

fn property(style: &SchemaStyle, name: &str, schema: &serde_json::Value) -> String {
    let ty = (style.type_name)(&json_str(schema.get("type")));
    let mut out = format!("{name}:{{description:{}", escaped(&json_str(schema.get("description"))));
    match ty.as_str() {
        "STRING" => {
            if let Some(e) = schema.get("enum").filter(|e| style.null_enum || !e.is_null()) {
                out.push_str(&format!(",enum:{}", format_value(&Value::from_json(e), true)));
            }
        }
        "OBJECT" => {
            let props = if truthy(schema.get("properties")) { properties(style, &schema["properties"]) } else { String::new() };
            out.push_str(&format!(",properties:{{{props}}}"));
            if truthy(schema.get("required")) {
                out.push_str(&format!(",required:{}", required_list(&schema["required"])));
            }
        }
        "ARRAY" => out.push_str(&array_items(style, schema)),
        _ => {}
    }
    out.push_str(&format!(",type:{}}}", escaped(&ty)));
    out
}

/// `,items:{...}` of an array schema: its keywords sorted; nested schemas beyond one level are
/// written as plain values (with escaped keys), as the template does.
fn array_items(style: &SchemaStyle, schema: &serde_json::Value) -> String {
    let Some(items) = schema.get("items").filter(|i| truthy(Some(i))).and_then(|i| i.as_object()) else {
        return String::new();
    };
    let mut keys: Vec<&String> = items.keys().collect();
    keys.sort();
    let parts: Vec<String> = keys
        .into_iter()
        .filter(|k| !items[*k].is_null())
        .map(|k| {
            let v = &items[k];
            match (k.as_str(), v) {
                ("properties", serde_json::Value::Object(_)) => format!("properties:{{{}}}", properties(style, v)),
                ("required", _) => format!("required:{}", required_list(v)),
                ("type", serde_json::Value::String(t)) => format!("type:{}", escaped(&(style.type_name)(t))),
                ("type", other) => {
                    let names: Vec<Value> =
                        other.as_array().into_iter().flatten().map(|t| Value::Str((style.type_name)(&json_str(Some(t))))).collect();
                    format!("type:{}", format_value(&Value::List(names), true))
                }
                (k, v) => format!("{k}:{}", format_value(&Value::from_json(v), true)),
            }
        })
        .collect();
    format!(",items:{{{}}}", parts.join(","))
}
