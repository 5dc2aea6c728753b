//! Other plausible names for tools and parameters, word by word (`set_alarm` ->
//! `configure_alarm`), and the tools `distractors` may add. Chosen for fgbench and kept
//! apart from any training data this project writes.

/// Words of tool names and their stand-ins.
const TOOL_WORDS: &[(&str, &str)] = &[
    ("set", "configure"),
    ("get", "fetch"),
    ("add", "append"),
    ("send", "dispatch"),
    ("start", "begin"),
    ("play", "launch"),
    ("toggle", "flip"),
    ("adjust", "change"),
    ("create", "make"),
    ("find", "locate"),
    ("search", "lookup"),
    ("calculate", "compute"),
    ("compute", "evaluate"),
    ("update", "modify"),
    ("delete", "erase"),
    ("remove", "drop"),
    ("check", "verify"),
    ("list", "enumerate"),
    ("book", "reserve"),
    ("convert", "transform"),
    ("alarm", "wakeup"),
    ("timer", "stopwatch"),
    ("message", "note"),
    ("calendar", "agenda"),
    ("entry", "item"),
    ("heating", "climate"),
    ("media", "sound"),
    ("directions", "path"),
    ("setting", "option"),
    ("weather", "forecast"),
    ("info", "details"),
    ("price", "cost"),
];

/// Words of parameter names and their stand-ins.
const PARAM_WORDS: &[(&str, &str)] = &[
    ("time", "clock"),
    ("label", "tag"),
    ("minutes", "mins"),
    ("recipient", "contact"),
    ("body", "content"),
    ("urgent", "priority"),
    ("title", "heading"),
    ("start", "begin"),
    ("duration", "length"),
    ("zone", "area"),
    ("target", "goal"),
    ("celsius", "degrees"),
    ("query", "lookup"),
    ("kind", "category"),
    ("shuffle", "randomize"),
    ("destination", "place"),
    ("travel", "transport"),
    ("mode", "method"),
    ("list", "collection"),
    ("name", "identifier"),
    ("items", "entries"),
    ("setting", "option"),
    ("enabled", "active"),
    ("repeat", "recurring"),
    ("days", "weekdays"),
    ("location", "place"),
    ("city", "town"),
    ("amount", "quantity"),
    ("number", "count"),
    ("unit", "measure"),
    ("date", "day"),
];

/// `name` with every known word swapped (snake case and dotted names; a word's capital kept);
/// when no word is known, `fallback` is added.
fn rename(name: &str, words: &[(&str, &str)], fallback: impl Fn(&str) -> String) -> String {
    let mut changed = false;
    let out: String = name
        .split_inclusive(['_', '.', '-'])
        .map(|part| {
            let (word, sep) = part.split_at(part.trim_end_matches(['_', '.', '-']).len());
            let lower = word.to_lowercase();
            match words.iter().find(|(w, _)| *w == lower) {
                Some((_, to)) => {
                    changed = true;
                    let to = if word.starts_with(char::is_uppercase) { capitalize(to) } else { to.to_string() };
                    format!("{to}{sep}")
                }
                None => part.to_string(),
            }
        })
        .collect();
    if changed { out } else { fallback(name) }
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().chain(c).collect()).unwrap_or_default()
}

pub fn tool_name(name: &str) -> String {
    rename(name, TOOL_WORDS, |n| format!("do_{n}"))
}

pub fn param_name(name: &str) -> String {
    rename(name, PARAM_WORDS, |n| format!("{n}_value"))
}

fn param(ty: &str, desc: &str) -> serde_json::Value {
    serde_json::json!({"type": ty, "description": desc})
}

/// Tools of other domains that `distractors` declares beside a case's own.
pub fn distractor_pool() -> Vec<serde_json::Value> {
    let tool = |name: &str, desc: &str, props: serde_json::Value, required: &[&str]| serde_json::json!({"name": name, "description": desc, "parameters": {"type": "object", "properties": props, "required": required}});
    vec![
        tool(
            "get_stock_quote",
            "Get the latest price of a stock.",
            serde_json::json!({"ticker": param("string", "Ticker symbol.")}),
            &["ticker"],
        ),
        tool(
            "track_parcel",
            "Track a parcel by its tracking number.",
            serde_json::json!({"tracking_number": param("string", "Tracking number."), "carrier": param("string", "Carrier name.")}),
            &["tracking_number"],
        ),
        tool("define_word", "Look up a word's definition.", serde_json::json!({"word": param("string", "The word.")}), &["word"]),
        tool(
            "find_restaurant",
            "Find restaurants near a place.",
            serde_json::json!({"near": param("string", "Place."), "cuisine": param("string", "Cuisine.")}),
            &["near"],
        ),
        tool(
            "flight_status",
            "Get the status of a flight.",
            serde_json::json!({"flight_number": param("string", "Flight number, e.g. LH 400."), "date": param("string", "YYYY-MM-DD.")}),
            &["flight_number"],
        ),
        tool(
            "count_calories",
            "Estimate the calories in a food.",
            serde_json::json!({"food": param("string", "Food."), "grams": param("number", "Weight in grams.")}),
            &["food"],
        ),
        tool(
            "water_plants",
            "Run the garden sprinklers.",
            serde_json::json!({"bed": param("string", "Garden bed."), "litres": param("number", "Water to use.")}),
            &["bed"],
        ),
        tool(
            "lock_door",
            "Lock or unlock a smart door lock.",
            serde_json::json!({"door": param("string", "Which door."), "locked": param("boolean", "Lock (true) or unlock.")}),
            &["door", "locked"],
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_change_word_by_word_and_fall_back() {
        assert_eq!(tool_name("set_alarm"), "configure_wakeup");
        assert_eq!(tool_name("math.sqrt"), "do_math.sqrt");
        assert_eq!(tool_name("Get_Weather"), "Fetch_Forecast");
        assert_eq!(param_name("target_celsius"), "goal_degrees");
        assert_eq!(param_name("x"), "x_value");
    }
}
