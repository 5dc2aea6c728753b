#!/usr/bin/env python3
"""Writes datasets/demo.jsonl: fgbench's own small eval set (our tools, our questions).

The tools use BFCL's schema conventions (type names string/integer/float/boolean/array/dict,
accepted answers as lists, "" marking an optional parameter that may be left out), so the
same BFCL AST rules score them. Run it after editing; the JSONL is committed.
"""
import json
from pathlib import Path


def s(desc, enum=None, **kw):
    d = {"type": "string", "description": desc}
    if enum:
        d["enum"] = enum
    d.update(kw)
    return d


def i(desc, **kw):
    return {"type": "integer", "description": desc, **kw}


def f(desc, **kw):
    return {"type": "float", "description": desc, **kw}


def b(desc, **kw):
    return {"type": "boolean", "description": desc, **kw}


def arr(desc, item_type, **kw):
    return {"type": "array", "items": {"type": item_type}, "description": desc, **kw}


def tool(name, desc, props, required):
    return {"name": name, "description": desc, "parameters": {"type": "dict", "properties": props, "required": required}}


TOOLS = {
    "set_thermostat": tool("set_thermostat", "Set the target temperature of a room's thermostat.", {
        "room": s("Room name, e.g. 'living room'."),
        "celsius": f("Target temperature in degrees Celsius."),
        "eco_mode": b("Whether to run in eco mode. Defaults to false.", default=False),
    }, ["room", "celsius"]),
    "convert_units": tool("convert_units", "Convert a quantity between units of the same dimension.", {
        "value": f("The quantity to convert."),
        "from_unit": s("Unit to convert from.", enum=["km", "mi", "kg", "lb", "l", "gal"]),
        "to_unit": s("Unit to convert to.", enum=["km", "mi", "kg", "lb", "l", "gal"]),
    }, ["value", "from_unit", "to_unit"]),
    "create_calendar_event": tool("create_calendar_event", "Create an event in the user's calendar.", {
        "title": s("Event title, verbatim."),
        "date": s("Date in YYYY-MM-DD format."),
        "start_time": s("Start time, 24-hour HH:MM."),
        "duration_minutes": i("Length of the event in minutes. Default 60.", default=60),
        "attendees": arr("Email addresses of the people invited.", "string"),
    }, ["title", "date", "start_time"]),
    "track_parcel": tool("track_parcel", "Look up the delivery status of a parcel.", {
        "tracking_number": s("The carrier's tracking number."),
        "carrier": s("Carrier name.", enum=["dhl", "ups", "fedex", "usps", "postnl"]),
    }, ["tracking_number"]),
    "scale_recipe": tool("scale_recipe", "Scale a recipe's ingredient amounts to a number of servings.", {
        "recipe_name": s("Name of the recipe."),
        "servings": i("Number of servings wanted."),
        "metric": b("Report amounts in metric units."),
    }, ["recipe_name", "servings"]),
    "exchange_rate": tool("exchange_rate", "Get the exchange rate between two currencies, optionally on a past date.", {
        "base": s("ISO 4217 code of the currency to convert from."),
        "quote": s("ISO 4217 code of the currency to convert to."),
        "on_date": s("Date in YYYY-MM-DD; today if omitted."),
    }, ["base", "quote"]),
    "send_sms": tool("send_sms", "Send a text message to a phone number.", {
        "to": s("Phone number in E.164 format, e.g. +14155550100."),
        "body": s("Message text, sent exactly as given."),
    }, ["to", "body"]),
    "book_table": tool("book_table", "Reserve a table at a restaurant.", {
        "restaurant": s("Restaurant name."),
        "party_size": i("Number of guests."),
        "time": s("Time of the reservation, 24-hour HH:MM."),
        "preferences": {"type": "dict", "description": "Seating preferences.", "properties": {
            "outdoor": b("Prefer a table outside."),
            "high_chair": b("A high chair for a child is needed."),
        }},
    }, ["restaurant", "party_size", "time"]),
    "water_plants": tool("water_plants", "Run the garden irrigation for some zones.", {
        "zones": arr("Zone numbers to water.", "integer"),
        "minutes": i("Minutes per zone."),
    }, ["zones", "minutes"]),
    "translate_text": tool("translate_text", "Translate text into another language.", {
        "text": s("Text to translate, verbatim."),
        "target_language": s("Target language as an ISO 639-1 code, e.g. 'de'."),
        "formal": b("Use the formal register where the language has one."),
    }, ["text", "target_language"]),
    "log_workout": tool("log_workout", "Record a workout in the fitness log.", {
        "activity": s("Kind of workout.", enum=["run", "cycle", "swim", "row", "walk"]),
        "distance_km": f("Distance covered in kilometres."),
        "duration_minutes": i("Duration in minutes."),
    }, ["activity", "duration_minutes"]),
    "search_library": tool("search_library", "Search the public library catalogue.", {
        "query": s("Title, author or keywords."),
        "available_only": b("Only show items that can be borrowed now."),
        "max_results": i("Maximum number of results, 1-50."),
    }, ["query"]),
    "split_bill": tool("split_bill", "Split a restaurant bill between people, with a tip.", {
        "total": f("Bill total before tip."),
        "people": i("Number of people paying."),
        "tip_percent": f("Tip as a percentage of the total."),
    }, ["total", "people"]),
    "set_reminder": tool("set_reminder", "Set a reminder at a given time.", {
        "message": s("What to be reminded of, verbatim."),
        "at": s("When, as YYYY-MM-DD HH:MM."),
        "repeat": s("How often it repeats.", enum=["never", "daily", "weekly", "monthly"]),
    }, ["message", "at"]),
}

CASES = []


def case(cat, cid, question, tools, answers):
    CASES.append({
        "schema": "fgbench.case/1",
        "id": f"demo_{cat}_{cid}",
        "category": cat,
        "kind": {"simple": "simple", "multiple": "multiple", "parallel": "parallel",
                 "parallel_multiple": "parallel", "irrelevance": "irrelevance"}[cat],
        "messages": [{"role": "user", "content": question}],
        "tools": [TOOLS[t] for t in tools],
        "answers": answers,
        "source": "fgbench/demo",
    })


# simple: one tool, one call
case("simple", 0, "Set the living room to 21.5 degrees.", ["set_thermostat"],
     [{"set_thermostat": {"room": ["living room"], "celsius": [21.5], "eco_mode": ["", False]}}])
case("simple", 1, "How many miles is 42 km?", ["convert_units"],
     [{"convert_units": {"value": [42.0], "from_unit": ["km"], "to_unit": ["mi"]}}])
case("simple", 2, "Where is my UPS parcel 1Z999AA10123456784?", ["track_parcel"],
     [{"track_parcel": {"tracking_number": ["1Z999AA10123456784"], "carrier": ["ups"]}}])
case("simple", 3, "Scale the recipe for shakshuka to 6 servings.", ["scale_recipe"],
     [{"scale_recipe": {"recipe_name": ["shakshuka"], "servings": [6], "metric": ["", False, True]}}])
case("simple", 4, "What's the euro to Japanese yen rate?", ["exchange_rate"],
     [{"exchange_rate": {"base": ["EUR"], "quote": ["JPY"], "on_date": [""]}}])
case("simple", 5, 'Text +14155550100: "Running late, start without me: 10 min"', ["send_sms"],
     [{"send_sms": {"to": ["+14155550100"], "body": ["Running late, start without me: 10 min"]}}])
case("simple", 6, "Water zones 1, 3 and 4 for 12 minutes each.", ["water_plants"],
     [{"water_plants": {"zones": [[1, 3, 4]], "minutes": [12]}}])
case("simple", 7, "Translate 'Où est la gare ?' into German, formally.", ["translate_text"],
     [{"translate_text": {"text": ["Où est la gare ?"], "target_language": ["de"], "formal": [True]}}])
case("simple", 8, "Log a 35 minute run of 7.2 km.", ["log_workout"],
     [{"log_workout": {"activity": ["run"], "distance_km": [7.2], "duration_minutes": [35]}}])
case("simple", 9, "Book a table for 4 at Zur Linde at 19:30, outside if possible.", ["book_table"],
     [{"book_table": {"restaurant": ["Zur Linde"], "party_size": [4], "time": ["19:30"],
                      "preferences": [{"outdoor": [True], "high_chair": ["", False]}]}}])
case("simple", 10, "Split a bill of 86.40 between 3 people with an 18% tip.", ["split_bill"],
     [{"split_bill": {"total": [86.4], "people": [3], "tip_percent": [18.0]}}])
case("simple", 11, "Remind me to call {grandma} <3 at 2026-12-24 09:00, every year is fine but set it weekly.",
     ["set_reminder"],
     [{"set_reminder": {"message": ["call {grandma} <3", "call grandma"], "at": ["2026-12-24 09:00"], "repeat": ["weekly"]}}])
case("simple", 12, "Find books by Tove Jansson that I can borrow right now.", ["search_library"],
     [{"search_library": {"query": ["Tove Jansson"], "available_only": [True], "max_results": [""]}}])
case("simple", 13, "Schedule 'Design review' on 2026-12-02 at 14:00 for 90 minutes with ana@example.com and li@example.com.",
     ["create_calendar_event"],
     [{"create_calendar_event": {"title": ["Design review"], "date": ["2026-12-02"], "start_time": ["14:00"],
                                 "duration_minutes": [90], "attendees": [["ana@example.com", "li@example.com"]]}}])

# multiple: several tools offered, one call to the right one
case("multiple", 0, "Convert 5 gallons to litres.", ["set_thermostat", "convert_units", "split_bill"],
     [{"convert_units": {"value": [5.0], "from_unit": ["gal"], "to_unit": ["l"]}}])
case("multiple", 1, "Track DHL parcel JD014600006281230704.", ["send_sms", "track_parcel", "search_library"],
     [{"track_parcel": {"tracking_number": ["JD014600006281230704"], "carrier": ["dhl"]}}])
case("multiple", 2, "Make the bedroom 18 degrees in eco mode.", ["water_plants", "set_thermostat", "set_reminder"],
     [{"set_thermostat": {"room": ["bedroom"], "celsius": [18.0], "eco_mode": [True]}}])
case("multiple", 3, "What was the dollar to Swiss franc rate on 2025-06-30?", ["exchange_rate", "convert_units"],
     [{"exchange_rate": {"base": ["USD"], "quote": ["CHF"], "on_date": ["2025-06-30"]}}])
case("multiple", 4, "Say 'Happy birthday, Jo!' to +447700900123 by text.", ["translate_text", "send_sms", "book_table"],
     [{"send_sms": {"to": ["+447700900123"], "body": ["Happy birthday, Jo!"]}}])
case("multiple", 5, "I swam for 40 minutes.", ["log_workout", "set_reminder", "search_library"],
     [{"log_workout": {"activity": ["swim"], "duration_minutes": [40], "distance_km": [""]}}])
case("multiple", 6, "Remind me daily at 2026-12-01 08:00 to take vitamins.", ["create_calendar_event", "set_reminder"],
     [{"set_reminder": {"message": ["take vitamins"], "at": ["2026-12-01 08:00"], "repeat": ["daily"]}}])
case("multiple", 7, "Scale pancakes to 2 servings in metric.", ["scale_recipe", "convert_units", "split_bill"],
     [{"scale_recipe": {"recipe_name": ["pancakes"], "servings": [2], "metric": [True]}}])
case("multiple", 8, "Translate 'good morning' to Japanese.", ["send_sms", "translate_text"],
     [{"translate_text": {"text": ["good morning"], "target_language": ["ja"], "formal": ["", False]}}])
case("multiple", 9, "Search the library for 'Rust in Action', max 5 results.", ["search_library", "track_parcel"],
     [{"search_library": {"query": ["Rust in Action"], "max_results": [5], "available_only": ["", False]}}])

# parallel: one tool, several calls
case("parallel", 0, "Set the kitchen to 20 degrees and the office to 22.", ["set_thermostat"],
     [{"set_thermostat": {"room": ["kitchen"], "celsius": [20.0], "eco_mode": ["", False]}},
      {"set_thermostat": {"room": ["office"], "celsius": [22.0], "eco_mode": ["", False]}}])
case("parallel", 1, "Convert 10 kg to lb and 3 mi to km.", ["convert_units"],
     [{"convert_units": {"value": [10.0], "from_unit": ["kg"], "to_unit": ["lb"]}},
      {"convert_units": {"value": [3.0], "from_unit": ["mi"], "to_unit": ["km"]}}])
case("parallel", 2, "Track FedEx 449044304137821 and USPS 9400111899223397623910.", ["track_parcel"],
     [{"track_parcel": {"tracking_number": ["449044304137821"], "carrier": ["fedex"]}},
      {"track_parcel": {"tracking_number": ["9400111899223397623910"], "carrier": ["usps"]}}])
case("parallel", 3, "Get USD to EUR and USD to GBP rates.", ["exchange_rate"],
     [{"exchange_rate": {"base": ["USD"], "quote": ["EUR"], "on_date": [""]}},
      {"exchange_rate": {"base": ["USD"], "quote": ["GBP"], "on_date": [""]}}])
case("parallel", 4, "Translate 'thank you' into Spanish, Italian and Polish.", ["translate_text"],
     [{"translate_text": {"text": ["thank you"], "target_language": [lang], "formal": ["", False]}} for lang in ["es", "it", "pl"]])
case("parallel", 5, "Log a 30 minute walk and a 60 minute cycle of 25.5 km.", ["log_workout"],
     [{"log_workout": {"activity": ["walk"], "duration_minutes": [30], "distance_km": [""]}},
      {"log_workout": {"activity": ["cycle"], "duration_minutes": [60], "distance_km": [25.5]}}])
case("parallel", 6, "Text +14155550100 'On my way' and +14155550111 'See you at 8'.", ["send_sms"],
     [{"send_sms": {"to": ["+14155550100"], "body": ["On my way"]}},
      {"send_sms": {"to": ["+14155550111"], "body": ["See you at 8"]}}])
case("parallel", 7, "Water zone 2 for 5 minutes, and zones 5 and 6 for 15 minutes.", ["water_plants"],
     [{"water_plants": {"zones": [[2]], "minutes": [5]}}, {"water_plants": {"zones": [[5, 6]], "minutes": [15]}}])

# parallel_multiple: several tools, several calls
case("parallel_multiple", 0, "Set the hall to 19 degrees and remind me at 2026-12-05 18:00 to check the boiler.",
     ["set_thermostat", "set_reminder", "send_sms"],
     [{"set_thermostat": {"room": ["hall"], "celsius": [19.0], "eco_mode": ["", False]}},
      {"set_reminder": {"message": ["check the boiler"], "at": ["2026-12-05 18:00"], "repeat": ["", "never"]}}])
case("parallel_multiple", 1, "Split 120 between 4 with a 10% tip, and convert 120 lb to kg.",
     ["split_bill", "convert_units"],
     [{"split_bill": {"total": [120.0], "people": [4], "tip_percent": [10.0]}},
      {"convert_units": {"value": [120.0], "from_unit": ["lb"], "to_unit": ["kg"]}}])
case("parallel_multiple", 2, "Book Sushi Ko for 2 at 20:00 and text +14155550123 'Dinner at 8 at Sushi Ko'.",
     ["book_table", "send_sms", "track_parcel"],
     [{"book_table": {"restaurant": ["Sushi Ko"], "party_size": [2], "time": ["20:00"], "preferences": [""]}},
      {"send_sms": {"to": ["+14155550123"], "body": ["Dinner at 8 at Sushi Ko"]}}])
case("parallel_multiple", 3, "Find 'Moomin' books and scale lasagne to 8 servings.",
     ["search_library", "scale_recipe"],
     [{"search_library": {"query": ["Moomin"], "available_only": ["", False], "max_results": [""]}},
      {"scale_recipe": {"recipe_name": ["lasagne"], "servings": [8], "metric": ["", False]}}])
case("parallel_multiple", 4, "Log a 25 minute row, and get the CAD to EUR rate.",
     ["log_workout", "exchange_rate", "water_plants"],
     [{"log_workout": {"activity": ["row"], "duration_minutes": [25], "distance_km": [""]}},
      {"exchange_rate": {"base": ["CAD"], "quote": ["EUR"], "on_date": [""]}}])
case("parallel_multiple", 5, "Translate 'Keep left' into Dutch and track PostNL parcel 3SABCD1234567.",
     ["translate_text", "track_parcel"],
     [{"translate_text": {"text": ["Keep left"], "target_language": ["nl"], "formal": ["", False]}},
      {"track_parcel": {"tracking_number": ["3SABCD1234567"], "carrier": ["postnl"]}}])

# irrelevance: no offered tool fits; the right answer is no call
for n, (q, tools) in enumerate([
    ("What is the capital of Australia?", ["set_thermostat"]),
    ("Write me a haiku about autumn.", ["convert_units", "track_parcel"]),
    ("How tall is Mount Kilimanjaro?", ["scale_recipe"]),
    ("Turn off the lights in the garage.", ["set_thermostat", "water_plants"]),
    ("Who won the 1998 football world cup?", ["search_library", "exchange_rate"]),
    ("Order me a pizza with extra cheese.", ["book_table"]),
    ("What's 17 times 23?", ["split_bill"]),
    ("Play some jazz in the kitchen.", ["send_sms", "set_reminder"]),
    ("Explain photosynthesis in one sentence.", ["translate_text"]),
    ("Cancel my gym membership.", ["log_workout"]),
]):
    case("irrelevance", n, q, tools, [])

out = Path(__file__).with_name("demo.jsonl")
with out.open("w") as fh:
    for c in CASES:
        fh.write(json.dumps(c, ensure_ascii=False) + "\n")
print(f"wrote {len(CASES)} cases to {out}")


# Demo predictions: plausible model outputs for every case (right ones, near misses, prose,
# malformed text), so `fgbench score` has something real-looking to score before any model
# runs. They are written literally in the FunctionGemma call syntax.
E = "<escape>"


def val(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f"{E}{v}{E}"
    if isinstance(v, list):
        return "[" + ",".join(val(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{k}:{val(x)}" for k, x in sorted(v.items())) + "}"
    return repr(v)


def first(acc):
    for a in acc:
        if a != "":
            return {k: first(v) for k, v in a.items()} if isinstance(a, dict) else a
    return None


def call(name, args):
    body = ",".join(f"{k}:{val(v)}" for k, v in sorted(args.items()) if v is not None)
    return f"<start_function_call>call:{name}{{{body}}}<end_function_call>"


def right(c):
    return "".join(call(n, {k: first(v) for k, v in p.items()}) for a in c["answers"] for n, p in a.items())


preds = []
for n, c in enumerate(CASES):
    if c["kind"] == "irrelevance":
        out = "I can't do that with the tools I have." if n % 3 else call(c["tools"][0]["name"], {})
    elif n % 7 == 3:
        out = "Sure! I will take care of that for you."
    elif n % 11 == 5:
        out = right(c)[:-len("<end_function_call>") - 4]
    elif n % 5 == 2:
        out = right(c).replace(E, "", 2)
    elif n % 6 == 1:
        out = right(c).replace("call:", "call:get_", 1)
    else:
        out = right(c)
    preds.append({"id": c["id"], "output": out, "prompt_tokens": 300 + 7 * n, "completion_tokens": 20 + n % 13,
                  "ttft_ms": 150.0 + n, "total_ms": 900.0 + 11 * n})
pred_path = Path(__file__).with_name("demo.predictions.jsonl")
with pred_path.open("w") as fh:
    for p in preds:
        fh.write(json.dumps(p, ensure_ascii=False) + "\n")
print(f"wrote {len(preds)} demo predictions to {pred_path}")
