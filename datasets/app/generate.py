#!/usr/bin/env python3
"""Writes datasets/app/{train,test}.jsonl: one phone-assistant app ("Pocket") with nine tools
of its own, as rows in the Mobile Actions format Google ships `google/mobile-actions` in:

    {"metadata": "train"|"eval", "id": ..., "category": "app", "tools": [{"function":
     {name, description, parameters}}], "messages": [developer, user, assistant (tool_calls,
     or content when no tool fits)]}

(`id` and `category` are fgbench's additions; Google's rows have neither.)

Everything here is written for fgbench (tools, phrasings, values); nothing is copied.
Deterministic for a seed: `python3 datasets/app/generate.py [--seed 7]` rewrites both files.

What the split guarantees (and `fgbench datasets export-train --check-against` re-checks):
- train and test share the tools (the point of an app fine-tune) but never a user text;
- every free-form argument value of the test set (names, titles, places, labels, message
  bodies, items, times, numbers, dates) comes from a pool the training set never draws from;
  only enum members and booleans are shared, as they must be;
- the developer turn carries the current date and time and the day of week before the
  activation sentence, as in Mobile Actions; train and test use different "now"s, so a
  relative date ("tomorrow") must be worked out, not remembered.
"""
import argparse
import datetime as dt
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACTIVATION = "You are a model that can do function calling with the following functions"
NO_TOOL_REPLY = "Sorry, I can't do that with the tools I have."
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday", "sat": "Saturday", "sun": "Sunday"}
ZONES = ["living room", "bedroom", "kitchen", "bathroom", "office"]
MODES = ["driving", "walking", "cycling", "transit"]
LISTS = ["groceries", "hardware", "pharmacy"]
SETTINGS = {"wifi": "Wi-Fi", "bluetooth": "Bluetooth", "flashlight": "the flashlight", "do_not_disturb": "do not disturb", "airplane_mode": "airplane mode"}
MEDIA_KINDS = ["song", "album", "playlist", "podcast"]


def p(type_, desc, **kw):
    return {"type": type_, "description": desc, **kw}


def tool(name, desc, props, required):
    return {"function": {"name": name, "description": desc,
                         "parameters": {"type": "OBJECT", "properties": props, "required": required}}}


TOOLS = [
    tool("set_alarm", "Set an alarm.", {
        "time": p("STRING", "24-hour time, HH:MM."),
        "label": p("STRING", "Alarm label."),
        "repeat_days": {"type": "ARRAY", "description": "Days it repeats on.", "items": {"type": "STRING", "enum": DAYS}},
    }, ["time"]),
    tool("start_timer", "Start a countdown timer.", {
        "minutes": p("INTEGER", "Duration in minutes."),
        "label": p("STRING", "What the timer is for."),
    }, ["minutes"]),
    tool("send_message", "Send a text message to a contact.", {
        "recipient": p("STRING", "Contact name."),
        "body": p("STRING", "Message text, verbatim."),
        "urgent": p("BOOLEAN", "Mark as urgent."),
    }, ["recipient", "body"]),
    tool("add_calendar_entry", "Add an entry to the calendar.", {
        "title": p("STRING", "Entry title."),
        "start": p("STRING", "Start, YYYY-MM-DDTHH:MM:SS."),
        "duration_minutes": p("INTEGER", "Length in minutes."),
    }, ["title", "start"]),
    tool("adjust_heating", "Set a heating zone's target temperature.", {
        "zone": p("STRING", "Heating zone.", enum=ZONES),
        "target_celsius": p("NUMBER", "Target in degrees Celsius."),
    }, ["zone", "target_celsius"]),
    tool("play_media", "Play music or a podcast.", {
        "query": p("STRING", "What to play."),
        "kind": p("STRING", "Kind of media.", enum=MEDIA_KINDS),
        "shuffle": p("BOOLEAN", "Shuffle playback."),
    }, ["query"]),
    tool("get_directions", "Get directions to a place.", {
        "destination": p("STRING", "Where to go."),
        "travel_mode": p("STRING", "How to travel.", enum=MODES),
    }, ["destination", "travel_mode"]),
    tool("add_to_list", "Add items to a shopping list.", {
        "list_name": p("STRING", "Which list.", enum=LISTS),
        "items": {"type": "ARRAY", "description": "Items to add.", "items": {"type": "STRING"}},
    }, ["list_name", "items"]),
    tool("toggle_setting", "Turn a phone setting on or off.", {
        "setting": p("STRING", "The setting.", enum=list(SETTINGS)),
        "enabled": p("BOOLEAN", "On (true) or off (false)."),
    }, ["setting", "enabled"]),
]

# Free-form values, split once into a training and a held-out pool.
POOLS = {
    "alarm_label": ["gym", "school run", "meds", "standup", "yoga", "dog walk", "bus", "water plants", "stretch", "laundry",
                    "call mom", "study", "take out bins", "feed the cat", "swim practice", "piano", "bake bread", "check oven",
                    "shift start", "run club", "pick up kids", "team sync", "lunch", "nap over", "vitamins"],
    "timer_label": ["pasta", "eggs", "tea", "pizza", "rice", "laundry", "parking", "homework", "plank", "cookies", "nap",
                    "face mask", "bread", "soup", "meditation", "oven", "steak", "popcorn", "reading", "break"],
    "recipient": ["Maria", "Tom", "Aisha", "Lukas", "Priya", "Diego", "Hannah", "Kenji", "Sofia", "Omar", "Grace", "Mateo",
                  "Chloe", "Ravi", "Elena", "Noah", "Fatima", "Jonas", "Mei", "Samuel", "Zara", "Felix", "Amara", "Leo",
                  "Ingrid", "Pablo", "Yuki", "Nadia", "Ben", "Carmen", "Dev", "Olga", "Liam", "Rosa", "Ahmed", "Clara"],
    "body": ["I'm running ten minutes late", "see you at the station", "can you grab milk on the way home",
             "the meeting moved to Thursday", "happy birthday", "call me when you land", "dinner is ready",
             "I left the keys under the mat", "don't forget the tickets", "the kids are asleep", "on my way",
             "thanks for yesterday", "the package arrived", "let's meet at the cafe", "I'll be home by seven",
             "good luck today", "the car is fixed", "bring an umbrella", "the train is delayed", "I found your wallet",
             "movie starts at eight", "can we talk later", "the rent is paid", "practice is cancelled",
             "I'm outside", "save me a seat", "lunch is on me", "the door code changed", "check your email",
             "we won the game", "the dog needs a walk", "I miss you", "pick up some bread", "the wifi is down",
             "traffic is terrible", "I'll call you back", "the plumber comes at noon", "your parcel is here",
             "drive safe", "the printer is fixed"],
    "title": ["Dentist", "Team lunch", "Yoga class", "Parent meeting", "Haircut", "Car service", "Book club",
              "Flight to Lisbon", "Piano lesson", "Budget review", "Vet appointment", "Date night", "Gym session",
              "Project kickoff", "Coffee with Sam", "Tax deadline", "Football practice", "Doctor checkup",
              "Birthday party", "Job interview", "Language class", "Garden work", "Concert", "Farmers market",
              "Quarterly planning", "Swim lesson", "Museum visit", "Board meeting", "Bike repair", "Cooking class"],
    "query": ["Abbey Road", "lo-fi beats", "Taylor Swift", "morning jazz", "Bohemian Rhapsody", "The Daily",
              "classical piano", "workout mix", "Kind of Blue", "Radiohead", "rainy day songs", "Hamilton soundtrack",
              "Daft Punk", "road trip hits", "Clair de Lune", "Beyonce", "Serial", "chill acoustic", "Nirvana",
              "focus music", "Adele", "summer hits", "Miles Davis", "Stuff You Should Know", "Coldplay",
              "Fleetwood Mac", "deep house", "Thriller", "Norah Jones", "Rumours"],
    "destination": ["the airport", "Central Station", "the nearest pharmacy", "Grandma's house", "the city library",
                    "Riverside Park", "the office", "the beach", "the stadium", "the hospital", "the nearest gas station",
                    "Union Square", "the zoo", "the mall", "the university", "Harbor Bridge", "the museum",
                    "the train station", "Lakeside Cafe", "the bakery", "the post office", "Pine Hill", "the cinema",
                    "the farmers market", "Old Town"],
    "groceries": ["milk", "eggs", "bread", "apples", "coffee", "rice", "tomatoes", "cheese", "pasta", "bananas",
                  "yogurt", "onions", "butter", "spinach", "chicken", "olive oil", "carrots", "lemons", "oats", "honey"],
    "hardware": ["screws", "nails", "a hammer", "light bulbs", "tape", "batteries", "glue", "a paint brush",
                 "sandpaper", "wire", "a drill bit", "hinges", "a ladder", "wood filler", "cable ties", "a saw"],
    "pharmacy": ["aspirin", "bandages", "sunscreen", "toothpaste", "cough syrup", "vitamins", "shampoo",
                 "cotton pads", "eye drops", "floss", "antiseptic cream", "a thermometer", "hand soap", "lip balm"],
    # Fillers of the requests no tool can serve (questions, chit-chat, actions the app lacks).
    "country": ["Peru", "Norway", "Kenya", "Japan", "Chile", "Canada", "Egypt", "Portugal", "Vietnam", "Mexico",
                "Finland", "Ghana", "Nepal", "Ireland", "Morocco", "Poland", "Brazil", "Greece", "Iceland", "Uganda"],
    "city": ["Rome", "Oslo", "Nairobi", "Kyoto", "Lima", "Toronto", "Cairo", "Porto", "Hanoi", "Seville", "Krakow",
             "Dublin", "Quebec", "Athens", "Reykjavik", "Bergen", "Marseille", "Vienna", "Prague", "Edinburgh"],
    "food": ["pizza", "sushi", "a burrito", "pad thai", "a burger", "ramen", "falafel", "dumplings", "a salad", "curry",
             "tacos", "pho", "a kebab", "fried chicken", "lasagna", "paella"],
    "topic": ["black holes", "photosynthesis", "the French Revolution", "volcanoes", "how vaccines work", "inflation",
              "the Roman Empire", "quantum computing", "climate change", "the water cycle", "plate tectonics",
              "jazz history", "the stock market", "bees", "the human heart", "glaciers", "electric cars",
              "the printing press"],
    "word": ["hello", "thank you", "good night", "cheese", "friend", "library", "sunshine", "welcome", "goodbye",
             "apple", "happy birthday", "where is the station", "water", "coffee", "train", "beautiful"],
    "language": ["German", "Spanish", "Japanese", "Italian", "French", "Swahili", "Dutch", "Korean", "Polish", "Greek"],
}
# Requests no tool can serve: questions, chit-chat, and actions the app does not have.
NO_CALL_TEMPLATES = [
    ("country", "What's the capital of {}?"), ("country", "What language do they speak in {}?"),
    ("country", "How many people live in {}?"), ("city", "Book a flight to {}."), ("city", "What's the weather in {}?"),
    ("city", "Find me a hotel in {}."), ("city", "What time is it in {}?"), ("food", "Order me {}."),
    ("food", "How do I make {}?"), ("food", "Where can I get {} nearby?"), ("topic", "Tell me about {}."),
    ("topic", "Explain {} simply."), ("topic", "Write a short poem about {}."),
    ("word", "How do you say {} in {}?"), ("word", "Translate {} into {}."),
]
TEST_SHARE = 0.25


def split_pools(rng):
    train, test = {}, {}
    for name, values in POOLS.items():
        values = sorted(values)
        rng.shuffle(values)
        k = max(4, round(len(values) * TEST_SHARE))
        test[name], train[name] = values[:k], values[k:]
    # Numbers and times are split the same way.
    def split(name, values):
        values = list(values)
        rng.shuffle(values)
        k = round(len(values) * TEST_SHARE)
        test[name], train[name] = values[:k], values[k:]
    split("minutes", range(1, 91))
    split("duration", [15, 20, 30, 45, 60, 75, 90, 120, 150, 180])
    split("celsius", [x / 2 for x in range(32, 54)])  # 16.0 .. 26.5
    split("clock", [(h, m) for h in range(5, 23) for m in (0, 10, 15, 20, 30, 40, 45, 50)])
    return train, test


def fmt_12h(h, m):
    suffix = "am" if h < 12 else "pm"
    h12 = h % 12 or 12
    return f"{h12} {suffix}" if m == 0 else f"{h12}:{m:02d} {suffix}"


def say_time(rng, h, m):
    return fmt_12h(h, m) if rng.random() < 0.7 else f"{h:02d}:{m:02d}"


def call(name, **args):
    return {"function": {"name": name, "arguments": args}}


def pick(rng, xs):
    return xs[rng.randrange(len(xs))]


def alarm(rng, pool, now):
    h, m = pick(rng, pool["clock"])
    t = say_time(rng, h, m)
    args = {"time": f"{h:02d}:{m:02d}"}
    label = pick(rng, pool["alarm_label"]) if rng.random() < 0.5 else None
    days = sorted(rng.sample(DAYS, rng.randint(1, 3)), key=DAYS.index) if rng.random() < 0.3 else None
    if label:
        args["label"] = label
    if days:
        args["repeat_days"] = days
    day_text = " every " + " and ".join(DAY_NAMES[d] for d in days) if days else ""
    lab = f" labelled {label}" if label else ""
    text = pick(rng, [
        f"Set an alarm for {t}{lab}{day_text}.",
        f"Wake me up at {t}{day_text}{lab}.",
        f"Alarm at {t}{lab}{day_text} please.",
        f"Can you set an alarm at {t}{day_text}{lab}?",
        f"I need an alarm for {t}{lab}{day_text}.",
    ])
    return text, call("set_alarm", **args)


def timer(rng, pool, now):
    n = pick(rng, pool["minutes"])
    label = pick(rng, pool["timer_label"]) if rng.random() < 0.6 else None
    unit = "minute" if n == 1 else "minutes"
    args = {"minutes": n}
    if label:
        args["label"] = label
        text = pick(rng, [f"Start a {n} minute timer for the {label}.", f"Set a timer for {n} {unit} for {label}.",
                          f"Timer for the {label}, {n} {unit}.", f"Count down {n} {unit} for my {label}."])
    else:
        text = pick(rng, [f"Start a timer for {n} {unit}.", f"Set a {n} minute timer.", f"Timer, {n} {unit}.",
                          f"Count down {n} {unit} please."])
    return text, call("start_timer", **args)


def message(rng, pool, now):
    who, body = pick(rng, pool["recipient"]), pick(rng, pool["body"])
    urgent = rng.random() < 0.2
    args = {"recipient": who, "body": body}
    if urgent:
        args["urgent"] = True
    u = pick(rng, [" It's urgent.", " Mark it urgent."]) if urgent else ""
    text = pick(rng, [f"Text {who} saying {body}.", f"Send {who} a message: {body}.", f"Tell {who} {body}.",
                      f"Message {who} that {body}.", f"Send a text to {who}: {body}."]) + u
    return text, call("send_message", **args)


def calendar(rng, pool, now):
    title = pick(rng, pool["title"])
    h, m = pick(rng, pool["clock"])
    which = rng.random()
    if which < 0.35:
        day, day_text = now.date(), "today"
    elif which < 0.7:
        day, day_text = now.date() + dt.timedelta(days=1), "tomorrow"
    else:
        # Weeks ahead, often in another month: the month name carries the date, not "now".
        day = now.date() + dt.timedelta(days=rng.randint(2, 60))
        day_text = f"on {day.strftime('%B')} {day.day}"
    start = dt.datetime.combine(day, dt.time(h, m)).strftime("%Y-%m-%dT%H:%M:%S")
    args = {"title": title, "start": start}
    dur = pick(rng, pool["duration"]) if rng.random() < 0.4 else None
    if dur:
        args["duration_minutes"] = dur
    d = f" for {dur} minutes" if dur else ""
    t = fmt_12h(h, m)
    text = pick(rng, [f"Add {title} to my calendar {day_text} at {t}{d}.", f"Put {title} in the calendar {day_text} at {t}{d}.",
                      f"Schedule {title} {day_text} at {t}{d}.", f"Create a calendar entry called {title} {day_text} at {t}{d}."])
    return text, call("add_calendar_entry", **args)


def heating(rng, pool, now):
    zone, c = pick(rng, ZONES), pick(rng, pool["celsius"])
    c_text = f"{c:g}"
    text = pick(rng, [f"Set the {zone} heating to {c_text} degrees.", f"Make the {zone} {c_text} degrees.",
                      f"Heat the {zone} to {c_text}°C.", f"Change the {zone} temperature to {c_text} degrees."])
    return text, call("adjust_heating", zone=zone, target_celsius=c)


def media(rng, pool, now):
    q = pick(rng, pool["query"])
    args = {"query": q}
    kind = pick(rng, MEDIA_KINDS) if rng.random() < 0.4 else None
    shuffle = rng.random() < 0.25
    if kind:
        args["kind"] = kind
    if shuffle:
        args["shuffle"] = True
    s = " on shuffle" if shuffle else ""
    if kind:
        text = pick(rng, [f"Play the {kind} {q}{s}.", f"Put on the {q} {kind}{s}.", f"I want to listen to the {q} {kind}{s}.",
                          f"Start the {kind} {q}{s}."])
    else:
        text = pick(rng, [f"Play {q}{s}.", f"Put on {q}{s}.", f"I want to listen to {q}{s}.", f"Start playing {q}{s}."])
    return text, call("play_media", **args)


def directions(rng, pool, now):
    dest, mode = pick(rng, pool["destination"]), pick(rng, MODES)
    verb = {"driving": "drive", "walking": "walk", "cycling": "cycle", "transit": "take transit"}[mode]
    by = {"driving": "by car", "walking": "on foot", "cycling": "by bike", "transit": "by public transport"}[mode]
    text = pick(rng, [f"How do I {verb} to {dest}?", f"Directions to {dest} {by}.", f"Navigate me to {dest} {by}.",
                      f"Get me to {dest}, {mode}.", f"Show the {mode} route to {dest}."])
    return text, call("get_directions", destination=dest, travel_mode=mode)


def shopping(rng, pool, now):
    lst = pick(rng, LISTS)
    items = rng.sample(pool[lst], rng.randint(1, min(3, len(pool[lst]))))
    joined = items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]
    text = pick(rng, [f"Add {joined} to the {lst} list.", f"Put {joined} on my {lst} list.",
                      f"{lst.capitalize()} list: {joined}.", f"I need {joined}, add {'it' if len(items) == 1 else 'them'} to {lst}."])
    return text, call("add_to_list", list_name=lst, items=items)


def setting(rng, pool, now):
    key, on = pick(rng, list(SETTINGS)), rng.random() < 0.5
    name = SETTINGS[key]
    state = "on" if on else "off"
    text = pick(rng, [f"Turn {state} {name}.", f"Switch {name} {state}.", f"Can you turn {name} {state}?",
                      f"{'Enable' if on else 'Disable'} {name}."])
    return text, call("toggle_setting", setting=key, enabled=on)


def no_call(rng, pool):
    kind, template = pick(rng, NO_CALL_TEMPLATES)
    if kind == "word":
        return template.format(pick(rng, pool["word"]), pick(rng, pool["language"]))
    return template.format(pick(rng, pool[kind]))


MAKERS = [alarm, timer, message, calendar, heating, media, directions, shopping, setting]


def developer_text(now):
    return (f"Current date and time given in YYYY-MM-DDTHH:MM:SS format: {now.strftime('%Y-%m-%dT%H:%M:%S')}\n"
            f"Day of week is {now.strftime('%A')}\n{ACTIVATION}")


def lower_first(s):
    return s[0].lower() + s[1:] if s[:2] != s[:2].upper() else s


def row(rng, pool, now, split, idx):
    roll = rng.random()
    if roll < 0.18:
        user, calls = no_call(rng, pool), []
    elif roll < 0.35:
        a, b = rng.sample(MAKERS, 2)
        (t1, c1), (t2, c2) = a(rng, pool, now), b(rng, pool, now)
        user = t1.rstrip(".?") + pick(rng, [", and ", ", then ", " and also "]) + lower_first(t2)
        calls = [c1, c2]
    else:
        user, c = pick(rng, MAKERS)(rng, pool, now)
        calls = [c]
    assistant = {"role": "assistant", "tool_calls": calls} if calls else {"role": "assistant", "content": NO_TOOL_REPLY}
    return {"metadata": split, "id": f"app_{split}_{idx:05d}", "category": "app", "tools": TOOLS,
            "messages": [{"role": "developer", "content": developer_text(now)}, {"role": "user", "content": user}, assistant]}


def nows(rng, count, months):
    out = []
    for _ in range(count):
        month = pick(rng, months)
        out.append(dt.datetime(2026, month, rng.randint(1, 28), rng.randint(7, 21), rng.randrange(0, 60)))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--train", type=int, default=3800)
    ap.add_argument("--test", type=int, default=320)
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    train_pool, test_pool = split_pools(rng)
    # A handful of "now"s each: an app sends the same tool block with the clock of the moment.
    train_nows, test_nows = nows(rng, 16, [1, 2, 4, 5, 7, 8, 10, 11]), nows(rng, 4, [3, 6, 9, 12])
    seen = set()
    for name, n, pool, now_list, split in [("train", args.train, train_pool, train_nows, "train"),
                                           ("test", args.test, test_pool, test_nows, "eval")]:
        rows = []
        while len(rows) < n:
            r = row(rng, pool, pick(rng, now_list), split, len(rows))
            user = r["messages"][1]["content"]
            if user in seen:
                continue  # never the same user text twice, within or across the splits
            seen.add(user)
            rows.append(r)
        with open(args.out / f"{name}.jsonl", "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        calls = [len(r["messages"][2].get("tool_calls", [])) for r in rows]
        print(f"{name}: {len(rows)} rows ({calls.count(0)} no call, {calls.count(1)} one call, {calls.count(2)} two calls)")


if __name__ == "__main__":
    main()
