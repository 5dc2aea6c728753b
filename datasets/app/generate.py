#!/usr/bin/env python3
"""Writes datasets/app/{train,validation,test}.jsonl: one phone-assistant app ("Pocket") with
nine tools of its own, as rows in the Mobile Actions format Google ships `google/mobile-actions`
in:

    {"metadata": "train"|"validation"|"eval", "id": ..., "category": "app", "template": ...,
     "tools": [{"function": {name, description, parameters}}], "messages": [developer, user,
     assistant (tool_calls, or content when no tool fits)]}

(`id`, `category` and `template` are fgbench's additions; Google's rows have none of them.)

Everything here is written for fgbench (tools, phrasings, values); nothing is copied.
Deterministic for a seed: `python3 datasets/app/generate.py [--seed 11]` rewrites all three.

What the split holds out, so that a score on the test file measures the task and not this
generator (`fgbench datasets leakage` measures it, `export-train --check-against` refuses a
training file whose requests share a skeleton with the test file):
- sentence frames: every tool has 20-odd frames (direct, casual, indirect, question, terse);
  each frame belongs to one split, and so do the joiners of two-request sentences, the
  fillers ("hey, could you") and the no-call requests' frames. The `template` field names a
  row's frames; no template of the test or validation file occurs in training;
- values: every free-form argument value (names, titles, places, labels, bodies, items,
  times, numbers, dates) comes from a pool only its split draws from; enum members and
  booleans are shared, as they must be;
- the clock: each developer turn carries the current date and time and the day of week, as
  in Mobile Actions; the splits use different "now"s, so "tomorrow" or "on Friday" must be
  worked out.
What every split shares, because it is the skill: how values are said (12- and 24-hour
times, spelled-out times and numbers, "quarter past six", "weekdays", relative dates, a
duration as a time range), typos in non-value words, two requests in one sentence (also two
calls of one tool), and hard no-call requests that nearly fit a tool (a zone, setting or list
outside the enum; actions the tools do not have: cancel, read, pause).

Training rows also vary what an app may vary: the tools' order (a few orders per "now", so
rows still share a prompt prefix, which the fine-tuning script exploits), tools missing
(a request for a missing tool gets no call), extra tools of other apps, and the developer
turn's activation sentence. The validation and test files declare the nine tools in the
order the app sends them, with the documented activation sentence.
"""
import argparse
import datetime as dt
import json
import random
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACTIVATION = "You are a model that can do function calling with the following functions"
# Other developer turns an app or a runtime writes before the declarations (training only).
OTHER_ACTIVATIONS = [
    "You can do function calling with the following functions:",
    "You are Pocket, a phone assistant. Use the functions below when a request needs one.\n" + ACTIVATION,
    "You are a helpful assistant with access to the following functions",
]
NO_TOOL_REPLY = "Sorry, I can't do that with the tools I have."
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday", "fri": "Friday", "sat": "Saturday", "sun": "Sunday"}
ZONES = ["living room", "bedroom", "kitchen", "bathroom", "office"]
MODES = ["driving", "walking", "cycling", "transit"]
LISTS = ["groceries", "hardware", "pharmacy"]
SETTINGS = {"wifi": ["Wi-Fi", "wifi", "the wifi"], "bluetooth": ["Bluetooth", "bluetooth"],
            "flashlight": ["the flashlight", "the torch"], "do_not_disturb": ["do not disturb", "DND"],
            "airplane_mode": ["airplane mode", "flight mode"]}
MEDIA_KINDS = ["song", "album", "playlist", "podcast"]
SHARES = {"train": 0.6, "validation": 0.15, "test": 0.25}


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
TOOL_NAMES = [t["function"]["name"] for t in TOOLS]

# Other apps' tools, declared beside Pocket's in some training rows (never called).
DISTRACTORS = [
    tool("get_weather", "Get the weather forecast for a city.", {"city": p("STRING", "City name."), "days": p("INTEGER", "Days ahead.")}, ["city"]),
    tool("book_taxi", "Book a taxi.", {"pickup": p("STRING", "Pickup address."), "dropoff": p("STRING", "Drop-off address.")}, ["pickup", "dropoff"]),
    tool("convert_currency", "Convert an amount between currencies.", {"amount": p("NUMBER", "Amount."), "from_code": p("STRING", "ISO code."), "to_code": p("STRING", "ISO code.")}, ["amount", "from_code", "to_code"]),
    tool("search_recipes", "Search recipes by ingredient.", {"ingredient": p("STRING", "Main ingredient."), "vegetarian": p("BOOLEAN", "Only vegetarian.")}, ["ingredient"]),
    tool("log_workout", "Log a workout.", {"activity": p("STRING", "Activity."), "minutes": p("INTEGER", "Duration.")}, ["activity", "minutes"]),
    tool("translate_text", "Translate text into a language.", {"text": p("STRING", "Text."), "language": p("STRING", "Target language.")}, ["text", "language"]),
]

# Other names an app could give the same tools and parameters (training only: `fgbench
# perturb --kind rename` draws from a list of its own).
RENAMES = {
    "set_alarm": ["create_alarm", "alarm_set", "new_alarm"], "start_timer": ["countdown_start", "set_timer", "timer_begin"],
    "send_message": ["send_text", "text_contact", "message_send"], "add_calendar_entry": ["create_event", "calendar_add", "schedule_event"],
    "adjust_heating": ["set_thermostat", "heating_set", "set_zone_temperature"], "play_media": ["play_audio", "media_play", "start_playback"],
    "get_directions": ["navigate_to", "route_to", "directions_get"], "add_to_list": ["list_add_items", "append_to_list", "shopping_add"],
    "toggle_setting": ["set_setting", "switch_setting", "setting_toggle"],
}
PARAM_RENAMES = {"time": "alarm_time", "label": "name", "minutes": "duration_min", "recipient": "to", "body": "text",
                 "title": "event_title", "start": "starts_at", "query": "search", "destination": "place", "items": "entries",
                 "setting": "setting_name", "enabled": "on"}

# Free-form values, split once into training, validation and held-out pools.
POOLS = {
    "alarm_label": ["gym", "school run", "meds", "standup", "yoga", "dog walk", "bus", "water plants", "stretch", "laundry",
                    "call mom", "study", "take out bins", "feed the cat", "swim practice", "piano", "bake bread", "check oven",
                    "shift start", "run club", "pick up kids", "team sync", "lunch", "nap over", "vitamins", "flight",
                    "dentist", "train", "pray", "meditate", "podcast", "coffee", "walk", "alarm clock test", "garden",
                    "interview prep", "ferry", "choir", "market", "church"],
    "timer_label": ["pasta", "eggs", "tea", "pizza", "rice", "laundry", "parking", "homework", "plank", "cookies", "nap",
                    "face mask", "bread", "soup", "meditation", "oven", "steak", "popcorn", "reading", "break", "brownies",
                    "hair dye", "dough", "quinoa", "potatoes", "pomodoro", "screen time", "lasagna", "chili", "roast",
                    "sauna", "coffee", "risotto", "practice", "stew"],
    "recipient": ["Maria", "Tom", "Aisha", "Lukas", "Priya", "Diego", "Hannah", "Kenji", "Sofia", "Omar", "Grace", "Mateo",
                  "Chloe", "Ravi", "Elena", "Noah", "Fatima", "Jonas", "Mei", "Samuel", "Zara", "Felix", "Amara", "Leo",
                  "Ingrid", "Pablo", "Yuki", "Nadia", "Ben", "Carmen", "Dev", "Olga", "Liam", "Rosa", "Ahmed", "Clara",
                  "Mom", "Dad", "Grandpa", "Aunt Jo", "Marco", "Selin", "Tariq", "Ines", "Hugo", "Anya", "Kofi", "Lena"],
    "body": ["I'm running ten minutes late", "see you at the station", "can you grab milk on the way home",
             "the meeting moved to Thursday", "happy birthday", "call me when you land", "dinner is ready",
             "I left the keys under the mat", "don't forget the tickets", "the kids are asleep", "on my way",
             "thanks for yesterday", "the package arrived", "let's meet at the cafe", "I'll be home by seven",
             "good luck today", "the car is fixed", "bring an umbrella", "the train is delayed", "I found your wallet",
             "movie starts at eight", "can we talk later", "the rent is paid", "practice is cancelled",
             "I'm outside", "save me a seat", "lunch is on me", "the door code changed", "check your email",
             "we won the game", "the dog needs a walk", "I miss you", "pick up some bread", "the wifi is down",
             "traffic is terrible", "I'll call you back", "the plumber comes at noon", "your parcel is here",
             "drive safe", "the printer is fixed", "I'm stuck in a meeting", "the game starts soon",
             "did you feed the cat", "we need more coffee", "the babysitter cancelled", "see you tomorrow",
             "don't wait up", "I booked the table", "the flight landed", "grab a jacket"],
    "title": ["Dentist", "Team lunch", "Yoga class", "Parent meeting", "Haircut", "Car service", "Book club",
              "Flight to Lisbon", "Piano lesson", "Budget review", "Vet appointment", "Date night", "Gym session",
              "Project kickoff", "Coffee with Sam", "Tax deadline", "Football practice", "Doctor checkup",
              "Birthday party", "Job interview", "Language class", "Garden work", "Concert", "Farmers market",
              "Quarterly planning", "Swim lesson", "Museum visit", "Board meeting", "Bike repair", "Cooking class",
              "Physio", "Eye test", "School play", "Sprint review", "Wine tasting", "Car wash", "Movie night",
              "Lunch with Priya", "Pottery class", "One-on-one"],
    "query": ["Abbey Road", "lo-fi beats", "Taylor Swift", "morning jazz", "Bohemian Rhapsody", "The Daily",
              "classical piano", "workout mix", "Kind of Blue", "Radiohead", "rainy day songs", "Hamilton soundtrack",
              "Daft Punk", "road trip hits", "Clair de Lune", "Beyonce", "Serial", "chill acoustic", "Nirvana",
              "focus music", "Adele", "summer hits", "Miles Davis", "Stuff You Should Know", "Coldplay",
              "Fleetwood Mac", "deep house", "Thriller", "Norah Jones", "Rumours", "Blue Train", "sleep sounds",
              "Dua Lipa", "dinner party jazz", "Hotel California", "Radiolab", "indie folk", "The Beatles",
              "Purple Rain", "cafe bossa nova"],
    "destination": ["the airport", "Central Station", "the nearest pharmacy", "Grandma's house", "the city library",
                    "Riverside Park", "the office", "the beach", "the stadium", "the hospital", "the nearest gas station",
                    "Union Square", "the zoo", "the mall", "the university", "Harbor Bridge", "the museum",
                    "the train station", "Lakeside Cafe", "the bakery", "the post office", "Pine Hill", "the cinema",
                    "the farmers market", "Old Town", "the ferry terminal", "the climbing gym", "the town hall",
                    "Maple Street", "the aquarium", "the bus depot", "the ice rink", "the botanical garden", "Fort Point"],
    "groceries": ["milk", "eggs", "bread", "apples", "coffee", "rice", "tomatoes", "cheese", "pasta", "bananas",
                  "yogurt", "onions", "butter", "spinach", "chicken", "olive oil", "carrots", "lemons", "oats", "honey",
                  "garlic", "flour", "tofu", "avocados", "peppers", "salmon", "grapes", "lentils"],
    "hardware": ["screws", "nails", "a hammer", "light bulbs", "tape", "batteries", "glue", "a paint brush",
                 "sandpaper", "wire", "a drill bit", "hinges", "a ladder", "wood filler", "cable ties", "a saw",
                 "a tape measure", "bolts", "wall plugs", "a wrench"],
    "pharmacy": ["aspirin", "bandages", "sunscreen", "toothpaste", "cough syrup", "vitamins", "shampoo",
                 "cotton pads", "eye drops", "floss", "antiseptic cream", "a thermometer", "hand soap", "lip balm",
                 "ibuprofen", "plasters", "mouthwash", "allergy pills"],
    # Fillers of the requests no tool can serve.
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
    "other_zone": ["garage", "attic", "basement", "hallway", "nursery", "conservatory", "guest room", "porch", "sauna",
                   "greenhouse", "car", "pool"],
    "other_list": ["wishlist", "packing list", "to-do list", "Christmas list", "reading list", "gift list", "bucket list",
                   "school list"],
    "other_item": ["a scarf", "new headphones", "sunglasses", "a passport", "a novel", "a phone charger", "socks", "a tent",
                   "a birthday card", "sunscreen for the trip", "a yoga mat", "train tickets"],
    "other_setting": ["the hotspot", "location services", "dark mode", "NFC", "battery saver", "auto-rotate", "the VPN",
                      "the volume", "mobile data", "night light", "the screen lock", "hey-Pocket listening", "vibration",
                      "the keyboard sounds", "live captions", "the brightness"],
}

NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
                "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
TENS = {20: "twenty", 30: "thirty", 40: "forty", 50: "fifty", 60: "sixty", 70: "seventy", 80: "eighty", 90: "ninety"}


def words(n):
    """0..99 in words, as people write them ("twenty-five")."""
    if n < 20:
        return NUMBER_WORDS[n]
    tens, ones = n - n % 10, n % 10
    return TENS[tens] if ones == 0 else f"{TENS[tens]}-{NUMBER_WORDS[ones]}"


def pick(rng, xs):
    return xs[rng.randrange(len(xs))]


# ---- how values are said (shared by every split: this is the skill) ----

def period(h):
    if h < 12:
        return "in the morning"
    if h < 17:
        return "in the afternoon"
    return "in the evening" if h < 21 else "at night"


def say_clock(rng, h, m):
    """One unambiguous way to say h:m (24-hour)."""
    h12 = h % 12 or 12
    ampm = "am" if h < 12 else "pm"
    forms = [f"{h12}:{m:02d} {ampm}", f"{h:02d}:{m:02d}", f"{h12}:{m:02d}{ampm}"]
    if m == 0:
        forms += [f"{h12} {ampm}", f"{h12}{ampm}", f"{words(h12)} {ampm}", f"{words(h12)} o'clock {period(h)}"]
        if h == 12:
            forms += ["noon", "midday"]
    else:
        forms += [f"{words(h12)} {words(m) if m >= 10 else 'oh ' + words(m)} {ampm}", f"{h12}:{m:02d} {period(h)}"]
    nxt = (h + 1) % 24
    n12 = nxt % 12 or 12
    if m == 30:
        forms.append(f"half past {words(h12)} {period(h)}")
    if m == 15:
        forms.append(f"quarter past {words(h12)} {period(h)}")
    if m == 45 and nxt < 23:
        forms.append(f"quarter to {words(n12)} {period(nxt)}")
    if m in (10, 20):
        forms.append(f"{words(m)} past {words(h12)} {ampm}")
    if m in (40, 50) and nxt < 23:
        forms.append(f"{words(60 - m)} to {words(n12)} {'am' if nxt < 12 else 'pm'}")
    return pick(rng, forms)


def say_minutes(rng, n):
    """A duration of n minutes."""
    forms = [f"{n} minutes" if n != 1 else "1 minute", f"{n} mins" if n != 1 else "1 min"]
    if n < 100:
        forms.append(f"{words(n)} minutes" if n != 1 else "one minute")
    special = {1: ["a minute"], 15: ["a quarter of an hour", "quarter of an hour"], 30: ["half an hour", "thirty minutes"],
               45: ["three quarters of an hour"], 60: ["an hour", "one hour", "60 minutes"], 90: ["an hour and a half", "one and a half hours", "1.5 hours"],
               120: ["two hours", "2 hours"], 150: ["two and a half hours"], 180: ["three hours", "3 hours"]}
    forms += special.get(n, [])
    if n > 60 and n % 60 and n not in special:
        h, m = divmod(n, 60)
        hours = "an hour" if h == 1 else f"{words(h)} hours"
        forms += [f"{h} hour{'s' if h > 1 else ''} {m} minutes", f"{hours} and {m} minutes", f"{h}h {m}m"]
    return pick(rng, forms)


def say_celsius(rng, c):
    whole, half = int(c), c % 1 == 0.5
    forms = [f"{c:g} degrees", f"{c:g}°C", f"{c:g} degrees Celsius", f"{c:g} °C"]
    if whole < 100:
        forms.append(f"{words(whole)}{' and a half' if half else ''} degrees")
    if half:
        forms.append(f"{whole} and a half degrees")
    return pick(rng, forms)


def say_days(rng, days):
    if days == DAYS[:5]:
        return pick(rng, [" on weekdays", " every weekday", " Monday to Friday", " on workdays"])
    if days == DAYS[5:]:
        return pick(rng, [" on weekends", " every weekend", " on Saturdays and Sundays"])
    if days == DAYS:
        return pick(rng, [" every day", " daily", " every single day"])
    names = [DAY_NAMES[d] for d in days]
    joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
    plural = names[0] + "s" if len(names) == 1 else ", ".join(n + "s" for n in names[:-1]) + " and " + names[-1] + "s"
    return pick(rng, [f" every {joined}", f" on {plural}", f" each {joined}", f" repeating on {plural}"])


def say_date(rng, now, days_ahead):
    """How a person says the date `days_ahead` days after now (the value is worked out from it)."""
    day = now.date() + dt.timedelta(days=days_ahead)
    forms = []
    if days_ahead == 0:
        forms += ["today", "later today"]
    elif days_ahead == 1:
        forms += ["tomorrow"]
    elif days_ahead == 2:
        forms += ["the day after tomorrow"]
    if 2 <= days_ahead <= 6:
        forms += [f"on {day.strftime('%A')}", f"this {day.strftime('%A')}"]
    if 2 <= days_ahead <= 9:
        forms += [f"in {days_ahead} days", f"in {words(days_ahead)} days"]
    if days_ahead >= 2:
        suffix = {1: "st", 2: "nd", 3: "rd", 21: "st", 22: "nd", 23: "rd", 31: "st"}.get(day.day, "th")
        forms += [f"on {day.strftime('%B')} {day.day}", f"on the {day.day}{suffix} of {day.strftime('%B')}", f"on {day.day} {day.strftime('%B')}"]
    return pick(rng, forms), day


def join_items(items):
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def call(fn_name, **args):
    return {"function": {"name": fn_name, "arguments": args}}


# ---- the frames: each belongs to one split; {slots} are filled by the tool's maker ----
# A frame may use only the slots its maker offers; a slot in `needs` must be non-empty.

FRAMES = {
    "alarm": [
        "Set an alarm for {time}{label}{days}.", "Wake me up at {time}{days}{label}.", "Alarm at {time}{label}{days} please.",
        "Can you set an alarm at {time}{days}{label}?", "I need an alarm for {time}{label}{days}.",
        "I keep oversleeping, get me up at {time}{days}{label}.", "Make sure I'm awake by {time}{days}{label}.",
        "Could you wake me at {time}{label}{days}?", "Put an alarm in for {time}{days}{label}.",
        "{time} alarm{label}{days}, thanks.", "Ring me at {time}{days}{label}.", "Don't let me sleep past {time}{days}{label}.",
        "Please schedule an alarm for {time}{label}{days}.", "I have to be up at {time}{days}{label}, set an alarm.",
        "New alarm: {time}{label}{days}.", "Get an alarm going for {time}{days}{label}.",
        "I'd like to be woken at {time}{label}{days}.", "Could you add an alarm for {time}{days}{label}?",
        "Buzz me at {time}{label}{days}.", "My alarm should go off at {time}{label}{days}.",
        "An alarm at {time}{days}{label} would be great.", "Alarm please, {time}{days}{label}.",
    ],
    "timer": [
        "Start a timer for {dur}{label}.", "Set a timer for {dur}{label}.", "Timer, {dur}{label}.",
        "Count down {dur}{label} please.", "Give me {dur} on the clock{label}.", "Can you time {dur}{label}?",
        "I need a {dur_adj} timer{label}.", "Tell me when {dur} have passed{label}.", "Start counting down from {dur}{label}.",
        "Set a countdown of {dur}{label}.", "{dur} timer{label}, go.", "Can I get a timer for {dur}{label}?",
        "Time {dur}{label} for me.", "Kick off a {dur_adj} timer{label}.", "Please start a {dur_adj} countdown{label}.",
        "The {label_np} needs {dur}, set a timer.", "Timer for the {label_np}: {dur}.",
        "My {label_np} will be done in {dur}, time it.", "Let me know in {dur}{label}.",
        "Put {dur} on a timer{label}.", "Run a {dur_adj} timer{label}.", "Alert me after {dur}{label}.",
    ],
    "message": [
        "Text {who} saying {body}.{urgent}", "Send {who} a message: {body}.{urgent}", "Tell {who} {body}.{urgent}",
        "Message {who} that {body}.{urgent}", "Send a text to {who}: {body}.{urgent}", "Let {who} know {body}.{urgent}",
        "Drop {who} a line saying {body}.{urgent}", "Shoot {who} a text: {body}.{urgent}",
        "Can you message {who} with \"{body}\"?{urgent}", "Write to {who}: {body}.{urgent}", "Please text {who}, {body}.{urgent}",
        "Could you send {who} the message {body}?{urgent}", "Ping {who} and say {body}.{urgent}",
        "I want {who} to know that {body}, send it as a text.{urgent}", "Send this to {who}: {body}{urgent}",
        "SMS {who}: {body}.{urgent}", "Text to {who} - {body}.{urgent}", "{who} needs to know {body}, text them.{urgent}",
        "Quick message to {who}: {body}.{urgent}", "Reply to {who} with {body}.{urgent}",
        "Message for {who}: {body}.{urgent}", "Can you let {who} know that {body}?{urgent}",
    ],
    "calendar": [
        "Add {title} to my calendar {when}{dur}.", "Put {title} in the calendar {when}{dur}.", "Schedule {title} {when}{dur}.",
        "Create a calendar entry called {title} {when}{dur}.", "I have {title} {when}{dur}, add it to my calendar.",
        "Pencil in {title} {when}{dur}.", "Block out time for {title} {when}{dur}.",
        "Can you add {title} {when}{dur} to the calendar?", "Don't let me forget {title} {when}{dur}, put it in my calendar.",
        "New event: {title}, {when}{dur}.", "Calendar: {title} {when}{dur}.", "Make a calendar entry for {title} {when}{dur}.",
        "Note down {title} {when}{dur} in my calendar.", "{title} is {when}{dur}, please add it.",
        "Save {title} {when}{dur} to my schedule.", "Put me down for {title} {when}{dur}.",
        "Set up {title} {when}{dur} in the calendar.", "Could you schedule {title} for me {when}{dur}?",
        "Add an event, {title}, {when}{dur}.", "There's {title} {when}{dur}; add it.",
    ],
    "heating": [
        "Set the {zone} heating to {temp}.", "Make the {zone} {temp}.", "Heat the {zone} to {temp}.",
        "Change the {zone} temperature to {temp}.", "It's cold in the {zone}, warm it up to {temp}.",
        "I'd like the {zone} at {temp}.", "Turn the {zone} heating up to {temp}.",
        "Could you put the {zone} thermostat on {temp}?", "{Zone} heating: {temp}.", "Bring the {zone} to {temp}.",
        "Adjust the {zone} heat to {temp}.", "Keep the {zone} at {temp}.", "Get the {zone} to {temp} please.",
        "The {zone} should be {temp}.", "Can the {zone} be set to {temp}?", "Warm the {zone} to {temp}.",
        "Lower the {zone} heating to {temp}.", "Dial the {zone} to {temp}.", "Set {temp} in the {zone}.",
        "{Zone} to {temp}, please.",
    ],
    "media": [
        "Play {query}{shuf}.", "Put on {query}{shuf}.", "I want to listen to {query}{shuf}.", "Start playing {query}{shuf}.",
        "I'm in the mood for {query}{shuf}.", "Throw on {query}{shuf}.", "Can you play {query}{shuf}?",
        "Let's hear {query}{shuf}.", "Queue up {query}{shuf}.", "Play the {kind} {query}{shuf}.",
        "Put on the {query} {kind}{shuf}.", "I want to listen to the {query} {kind}{shuf}.", "Start the {kind} {query}{shuf}.",
        "Play my {query} {kind}{shuf}.", "Could you put on the {kind} called {query}{shuf}?",
        "Find the {kind} {query} and play it{shuf}.", "Listen to the {query} {kind}{shuf}.", "Shuffle {query}.",
        "Shuffle the {kind} {query}.", "Music time: {query}{shuf}.", "Blast {query}{shuf}.", "Some {query}{shuf}, please.",
    ],
    "directions": [
        "How do I {verb} to {dest}?", "Directions to {dest} {by}.", "Navigate me to {dest} {by}.", "Get me to {dest}, {mode}.",
        "Show the {mode} route to {dest}.", "What's the way to {dest} {by}?", "I need to get to {dest} {by}.",
        "Route me to {dest} {by}.", "Take me to {dest} {by}.", "Find me a {mode} route to {dest}.", "Guide me to {dest} {by}.",
        "How do I get to {dest} {by}?", "Which way to {dest} {by}?", "I'm heading to {dest} {by}, give me directions.",
        "Can you get me directions to {dest} {by}?", "I want to {verb} to {dest}, show me the way.",
        "Best way to {verb} to {dest}?", "Plot a {mode} route to {dest}.", "Help me {verb} to {dest}.",
        "Route to {dest} please, {by}.",
    ],
    "shopping": [
        "Add {items} to the {list} list.", "Put {items} on my {list} list.", "{List} list: {items}.",
        "I need {items}, add {them} to {list}.", "We're out of {items}, put {them} on the {list} list.",
        "Stick {items} on the {list} list.", "Can you add {items} to my {list} list?", "Remember {items} on the {list} list.",
        "Note {items} for the {list} list.", "The {list} list needs {items}.", "Write {items} on the {list} list.",
        "Add to {list}: {items}.", "Don't let me forget {items}, {list} list please.", "Include {items} in the {list} list.",
        "Jot down {items} on my {list} list.", "Please put {items} on {list}.", "{items} for the {list} list.",
        "Could {items} go on the {list} list?", "Pop {items} onto the {list} list.", "Add {items} under {list}.",
    ],
    "setting": [
        "Turn {state} {name}.", "Switch {name} {state}.", "Can you turn {name} {state}?", "{Enable} {name}.",
        "Please switch {state} {name}.", "{Name} {state}, please.", "I want {name} {state}.", "Flip {name} {state}.",
        "Could you put {name} {state}?", "Set {name} to {state}.", "{Name} {state}.", "Toggle {name} {state}.",
        "I need {name} {state} now.", "Go ahead and turn {name} {state}.", "Make sure {name} is {state}.",
        "{Enable} {name} for me.", "Would you switch {name} {state}?", "Put {name} {state} please.",
        "Have {name} {state}.", "Quick, {name} {state}!",
    ],
    # Two calls of one tool in one request.
    "setting_pair": [
        "Turn {state} both {name} and {name2}.", "Switch {name} {state}, and {name2} too.", "{Enable} {name} as well as {name2}.",
        "Put {name} {state} and {name2} as well.", "I want {name} and also {name2} {state}.", "Both {name} and {name2} {state}, please.",
        "Could you turn {state} both {name} and {name2}?", "Set {name} to {state}, same for {name2}.",
    ],
    "heating_pair": [
        "Set the {zone} to {temp} and the {zone2} to {temp2}.", "Heat the {zone} to {temp} and the {zone2} to {temp2}.",
        "{Zone} at {temp}, {zone2} at {temp2}.", "Make the {zone} {temp} and the {zone2} {temp2}.",
        "I'd like the {zone} at {temp} and the {zone2} at {temp2}.", "Change the {zone} to {temp}, the {zone2} to {temp2}.",
        "Put the {zone} on {temp} and the {zone2} on {temp2}.", "Warm the {zone} to {temp} and the {zone2} to {temp2}.",
    ],
    "timer_pair": [
        "Start a {dur_adj} timer for the {label_np} and a {dur_adj2} one for the {label_np2}.",
        "Two timers: {label_np} {dur}, {label_np2} {dur2}.", "Set timers for the {label_np} ({dur}) and the {label_np2} ({dur2}).",
        "Time the {label_np} for {dur} and the {label_np2} for {dur2}.", "{Label_np} needs {dur} and {label_np2} needs {dur2}, set timers.",
        "I need a timer of {dur} for the {label_np} and another of {dur2} for the {label_np2}.",
        "Count down {dur} for the {label_np} and {dur2} for the {label_np2}.", "Timers please: {dur} {label_np}, {dur2} {label_np2}.",
    ],
    # Requests no tool can serve, in families that each keep frames in every split: questions
    # and chit-chat, settings, zones and lists outside the enums, and actions the tools do not
    # have (cancel, read, pause...). A request that nearly fits a tool must still get no call.
    "no_call_topic": [
        "What's the capital of {country}?", "What language do they speak in {country}?", "How many people live in {country}?",
        "Book a flight to {city}.", "What's the weather in {city}?", "Find me a hotel in {city}.", "What time is it in {city}?",
        "Order me {food}.", "How do I make {food}?", "Where can I get {food} nearby?", "Tell me about {topic}.",
        "Explain {topic} simply.", "Write a short poem about {topic}.", "How do you say {word} in {language}?",
        "Translate {word} into {language}.", "Is it going to rain in {city} this weekend?", "Who won the last game?",
        "Tell me a joke.", "What's {a} times {b}?", "Recommend a good book about {topic}.",
    ],
    "no_call_setting": [
        "Turn {state} {other_setting}.", "Switch {other_setting} {state}.", "Can you put {other_setting} {state}?",
        "{Enable} {other_setting}.", "Please switch {state} {other_setting}.", "I want {other_setting} {state}.",
        "Toggle {other_setting} {state}.", "Flip {other_setting} {state}.", "Could you turn {other_setting} {state}?",
        "Set {other_setting} to {state}.",
    ],
    "no_call_zone": [
        "Set the {other_zone} heating to {temp}.", "Make the {other_zone} {temp}.", "Heat the {other_zone} up to {temp} please.",
        "I'd like the {other_zone} at {temp}.", "Change the {other_zone} temperature to {temp}.", "Warm the {other_zone} to {temp}.",
        "Keep the {other_zone} at {temp}.", "Set the oven to {oven} degrees.", "Preheat the oven to {oven}.",
    ],
    "no_call_list": [
        "Add {other_item} to my {other_list}.", "Put {other_item} on the {other_list}.", "{Other_list}: {other_item}.",
        "Can you add {other_item} to my {other_list}?", "Stick {other_item} on the {other_list}.", "Note {other_item} for the {other_list}.",
        "Remove {item} from the {list} list.", "Rename my {list} list.",
    ],
    "no_call_action": [
        "Cancel my {time} alarm.", "Delete the alarm for {time}.", "Stop the timer.", "How long is left on the timer?",
        "Read me the last message from {who}.", "Did {who} text me?", "What's on my calendar {day}?", "Delete {title} from my calendar.",
        "Pause the music.", "Skip this song.", "Turn the volume up.", "What's the temperature in the {zone} right now?",
        "Call {who}.", "Video call {who}.", "Order a taxi to {dest}.", "How far is {dest}?", "What's on my {list} list?",
        "Is {name} on?", "Take a photo.", "Snooze my alarm.", "Move my {title} to later.", "Who is {who}?",
    ],
}
JOINERS = [", and ", ", then ", " and also ", ". Also, ", "; ", " - and ", ", plus ", " and then ", ". After that, ",
           ", after that ", " and ", ". And ", ", oh and ", " as well as this: ", ". Then ", " & "]
PREFIXES = ["Hey, ", "Hi! ", "Okay, ", "Please, ", "Quick one: ", "Um, ", "Hey assistant, ", "So, ", "Yo, ", "Excuse me, ",
            "Pocket, ", "Hello, ", "Right, ", "Listen, ", "Hey there, ", "Ok so "]
SUFFIXES = [" Thanks!", " Thank you.", " Cheers.", " Thx.", " Ta.", " Much appreciated.", " Thanks a lot.", " Please and thanks."]


def fill(frame, slots, rng=None, typo_rate=0.0):
    """The frame with its slots filled; a typo may land in the frame's own words (never a value)."""
    if rng is not None and rng.random() < typo_rate:
        frame = typo(rng, frame)
    out = frame
    for k, v in slots.items():
        out = out.replace("{" + k + "}", v)
        out = out.replace("{" + k[:1].upper() + k[1:] + "}", v[:1].upper() + v[1:])
    assert "{" not in out, (frame, slots)
    return out


def typo(rng, frame):
    """One typo in a word of the frame's own text (four letters or more, outside the slots)."""
    import re
    spans = [m for m in re.finditer(r"(?<![{\w])[A-Za-z]{4,}(?![\w}])", frame)]
    if not spans:
        return frame
    m = pick(rng, spans)
    w = m.group(0)
    i = rng.randrange(1, len(w) - 1)
    kind = rng.randrange(3)
    if kind == 0:
        w2 = w[:i] + w[i + 1] + w[i] + w[i + 2:]  # swap
    elif kind == 1:
        w2 = w[:i] + w[i + 1:]  # drop
    else:
        w2 = w[:i] + w[i] + w[i:]  # double
    return frame[:m.start()] + w2 + frame[m.end():]


def usable(frame, slots):
    """A frame fits when every slot it names is offered, and non-empty unless it is optional."""
    import re
    for name in re.findall(r"\{(\w+)\}", frame):
        key = name[:1].lower() + name[1:]
        if key not in slots:
            return False
        if not slots[key] and key not in OPTIONAL:
            return False
    # A value that is set must be said: a frame that drops it would teach an argument from nowhere.
    if slots.get("kind") and "{kind}" not in frame:
        return False
    if slots.get("label") and "{label}" not in frame and "{label_np}" not in frame:
        return False
    if slots.get("shuf") and "{shuf}" not in frame:
        return False
    return True


OPTIONAL = {"label", "days", "urgent", "dur", "shuf"}


class Split:
    """What one split may draw from: its frames per family, joiners, fillers, value pools, nows."""

    def __init__(self, name, frames, joiners, prefixes, suffixes, pool, nows):
        self.name, self.frames, self.joiners, self.prefixes, self.suffixes = name, frames, joiners, prefixes, suffixes
        self.pool, self.nows = pool, nows

    def frame(self, rng, family, slots):
        options = [(i, f) for i, f in self.frames[family] if usable(f, slots)]
        assert options, (family, slots)
        return pick(rng, options)


def alarm(rng, sp, now):
    h, m = pick(rng, sp.pool["clock"])
    args = {"time": f"{h:02d}:{m:02d}"}
    label = pick(rng, sp.pool["alarm_label"]) if rng.random() < 0.45 else None
    days = None
    if rng.random() < 0.3:
        r = rng.random()
        days = DAYS[:5] if r < 0.25 else DAYS[5:] if r < 0.4 else DAYS if r < 0.5 else sorted(rng.sample(DAYS, rng.randint(1, 3)), key=DAYS.index)
    if label:
        args["label"] = label
    if days:
        args["repeat_days"] = days
    slots = {"time": say_clock(rng, h, m), "label": pick(rng, [f" labelled {label}", f" called {label}", f" named {label}", f" with the label {label}", f" for {label}"]) if label else "",
             "days": say_days(rng, days) if days else ""}
    return "alarm", slots, call("set_alarm", **args)


def timer_slots(rng, sp, n, label, suffix=""):
    s = {"dur" + suffix: say_minutes(rng, n),
         "dur_adj" + suffix: pick(rng, [f"{n} minute", f"{n}-minute"] + ([f"{words(n)} minute"] if n < 100 else [])),
         "label_np" + suffix: label or ""}
    return s


def timer(rng, sp, now):
    n = pick(rng, sp.pool["minutes"])
    label = pick(rng, sp.pool["timer_label"]) if rng.random() < 0.55 else None
    args = {"minutes": n}
    if label:
        args["label"] = label
    slots = timer_slots(rng, sp, n, label)
    slots["label"] = pick(rng, [f" for the {label}", f" for {label}", f" for my {label}", f" labelled {label}"]) if label else ""
    return "timer", slots, call("start_timer", **args)


def message(rng, sp, now):
    who, body = pick(rng, sp.pool["recipient"]), pick(rng, sp.pool["body"])
    urgent = rng.random() < 0.2
    args = {"recipient": who, "body": body}
    if urgent:
        args["urgent"] = True
    u = pick(rng, [" It's urgent.", " Mark it urgent.", " Flag it as urgent.", " This one is urgent.", " Urgent!"]) if urgent else ""
    return "message", {"who": who, "body": body, "urgent": u}, call("send_message", **args)


def calendar(rng, sp, now):
    title = pick(rng, sp.pool["title"])
    h, m = pick(rng, [c for c in sp.pool["clock"] if 7 <= c[0] <= 20])
    r = rng.random()
    ahead = 0 if r < 0.2 else 1 if r < 0.45 else rng.randint(2, 6) if r < 0.75 else rng.randint(7, 60)
    day_text, day = say_date(rng, now, ahead)
    start = dt.datetime.combine(day, dt.time(h, m))
    args = {"title": title, "start": start.strftime("%Y-%m-%dT%H:%M:%S")}
    dur = pick(rng, sp.pool["duration"]) if rng.random() < 0.45 else None
    dur_text = ""
    t = say_clock(rng, h, m)
    when = pick(rng, [f"{day_text} at {t}", f"at {t} {day_text}"])
    if dur and rng.random() < 0.3:
        end = start + dt.timedelta(minutes=dur)
        if end.date() == day:  # a duration said as a time range
            e = say_clock(rng, end.hour, end.minute)
            when = pick(rng, [f"{day_text} from {t} to {e}", f"from {t} to {e} {day_text}", f"{day_text} between {t} and {e}"])
    elif dur:
        dur_text = pick(rng, [f" for {say_minutes(rng, dur)}", f", {say_minutes(rng, dur)} long", f" lasting {say_minutes(rng, dur)}"])
    if dur:
        args["duration_minutes"] = dur
    return "calendar", {"title": title, "when": when, "dur": dur_text}, call("add_calendar_entry", **args)


def heating(rng, sp, now):
    zone, c = pick(rng, ZONES), pick(rng, sp.pool["celsius"])
    return "heating", {"zone": zone, "temp": say_celsius(rng, c)}, call("adjust_heating", zone=zone, target_celsius=c)


def media(rng, sp, now):
    q = pick(rng, sp.pool["query"])
    args = {"query": q}
    kind = pick(rng, MEDIA_KINDS) if rng.random() < 0.4 else None
    shuffle = rng.random() < 0.25
    if kind:
        args["kind"] = kind
    slots = {"query": q, "kind": kind or "", "shuf": pick(rng, [" on shuffle", " shuffled", " in random order", " and shuffle it"]) if shuffle else ""}
    i, f = sp.frame(rng, "media", slots)
    if f.startswith("Shuffle"):  # the frame says it
        shuffle = True
    if shuffle:
        args["shuffle"] = True
    return "media", slots, call("play_media", **args), (i, f)


def directions(rng, sp, now):
    dest, mode = pick(rng, sp.pool["destination"]), pick(rng, MODES)
    verb = pick(rng, {"driving": ["drive"], "walking": ["walk"], "cycling": ["cycle", "bike"], "transit": ["take transit", "go by public transport"]}[mode])
    by = pick(rng, {"driving": ["by car", "driving"], "walking": ["on foot", "walking"], "cycling": ["by bike", "cycling", "by bicycle"],
                    "transit": ["by public transport", "by bus", "by train", "on transit"]}[mode])
    return "directions", {"dest": dest, "mode": mode, "verb": verb, "by": by}, call("get_directions", destination=dest, travel_mode=mode)


def shopping(rng, sp, now):
    lst = pick(rng, LISTS)
    items = rng.sample(sp.pool[lst], rng.randint(1, min(3, len(sp.pool[lst]))))
    lst_text = {"groceries": pick(rng, ["groceries", "grocery"]), "hardware": "hardware", "pharmacy": "pharmacy"}[lst]
    return "shopping", {"items": join_items(items), "list": lst_text, "them": "it" if len(items) == 1 else "them"}, call("add_to_list", list_name=lst, items=items)


def setting(rng, sp, now):
    key, on = pick(rng, list(SETTINGS)), rng.random() < 0.5
    return "setting", {"name": pick(rng, SETTINGS[key]), "state": "on" if on else "off", "enable": "enable" if on else "disable"}, call("toggle_setting", setting=key, enabled=on)


def setting_pair(rng, sp, now):
    a, b = rng.sample(list(SETTINGS), 2)
    on = rng.random() < 0.5
    slots = {"name": pick(rng, SETTINGS[a]), "name2": pick(rng, SETTINGS[b]), "state": "on" if on else "off", "enable": "enable" if on else "disable"}
    return "setting_pair", slots, [call("toggle_setting", setting=a, enabled=on), call("toggle_setting", setting=b, enabled=on)]


def heating_pair(rng, sp, now):
    za, zb = rng.sample(ZONES, 2)
    ca, cb = pick(rng, sp.pool["celsius"]), pick(rng, sp.pool["celsius"])
    slots = {"zone": za, "zone2": zb, "temp": say_celsius(rng, ca), "temp2": say_celsius(rng, cb)}
    return "heating_pair", slots, [call("adjust_heating", zone=za, target_celsius=ca), call("adjust_heating", zone=zb, target_celsius=cb)]


def timer_pair(rng, sp, now):
    la, lb = rng.sample(sp.pool["timer_label"], 2)
    na, nb = pick(rng, sp.pool["minutes"]), pick(rng, sp.pool["minutes"])
    slots = {**timer_slots(rng, sp, na, la), **timer_slots(rng, sp, nb, lb, "2")}
    return "timer_pair", slots, [call("start_timer", minutes=na, label=la), call("start_timer", minutes=nb, label=lb)]


# How often a request gets no call, and from which family: the held-out files as an app sees
# requests; training leans on the near misses (a setting, zone or list outside the enum), which
# the first fine-tune on this data answered with a call (chosen on the validation split).
NO_CALL_SHARE = {"train": 0.28, "validation": 0.2, "test": 0.2}
NO_CALL_FAMILIES = {
    "train": [("no_call_topic", 0.2), ("no_call_setting", 0.25), ("no_call_zone", 0.2), ("no_call_list", 0.15), ("no_call_action", 0.2)],
    "held_out": [("no_call_topic", 0.3), ("no_call_setting", 0.2), ("no_call_zone", 0.14), ("no_call_list", 0.12), ("no_call_action", 0.24)],
}


def no_call(rng, sp, now):
    h, m = pick(rng, sp.pool["clock"])
    lst = pick(rng, LISTS)
    on = rng.random() < 0.5
    slots = {k: pick(rng, sp.pool[k]) for k in ["country", "city", "food", "topic", "word", "language", "other_zone", "other_list",
                                                  "other_item", "other_setting"]}
    slots.update({"who": pick(rng, sp.pool["recipient"]), "title": pick(rng, sp.pool["title"]), "dest": pick(rng, sp.pool["destination"]),
                  "temp": say_celsius(rng, pick(rng, sp.pool["celsius"])), "state": "on" if on else "off", "enable": "enable" if on else "disable",
                  "time": say_clock(rng, h, m), "day": pick(rng, ["today", "tomorrow", "this week"]),
                  "zone": pick(rng, ZONES), "list": lst, "item": pick(rng, sp.pool[lst]), "oven": str(pick(rng, [180, 200, 220, 160])),
                  "name": pick(rng, [n for names in SETTINGS.values() for n in names]), "a": str(rng.randint(3, 19)), "b": str(rng.randint(3, 19))})
    families = NO_CALL_FAMILIES["train" if sp.name == "train" else "held_out"]
    r, family = rng.random(), families[-1][0]
    for name, weight in families:
        if r < weight:
            family = name
            break
        r -= weight
    return family, slots, []


MAKERS = [alarm, timer, message, calendar, heating, media, directions, shopping, setting]
PAIR_MAKERS = [setting_pair, heating_pair, timer_pair]


def make(maker, rng, sp, now):
    """(frame id, text, calls) for one request."""
    out = maker(rng, sp, now)
    family, slots, calls = out[0], out[1], out[2]
    i, f = out[3] if len(out) > 3 else sp.frame(rng, family, slots)
    text = fill(f, slots, rng, typo_rate=0.07)
    return f"{family}.{i:02d}", text, calls if isinstance(calls, list) else [calls]


def lower_first(s):
    return s[0].lower() + s[1:] if s[:2] != s[:2].upper() else s


def request(rng, sp, now):
    # No call, then two requests joined, two calls of one tool, one request (the last three
    # in the proportions 12 : 6 : 62 whatever the no-call share).
    roll = rng.random()
    no_call_share = NO_CALL_SHARE[sp.name]
    rest = (roll - no_call_share) / (1 - no_call_share) if roll >= no_call_share else None
    if rest is None:
        tid, user, calls = make(no_call, rng, sp, now)
    elif rest < 0.15:
        a, b = rng.sample(MAKERS, 2)
        (ta, ua, ca), (tb, ub, cb) = make(a, rng, sp, now), make(b, rng, sp, now)
        j = rng.randrange(len(sp.joiners))
        joiner = sp.joiners[j][1]
        second = ub if joiner.rstrip().endswith(".") else lower_first(ub)
        user = ua.rstrip(".?!") + joiner + second
        tid, calls = f"{ta}+join.{sp.joiners[j][0]:02d}+{tb}", ca + cb
    elif rest < 0.225:
        tid, user, calls = make(pick(rng, PAIR_MAKERS), rng, sp, now)
    else:
        tid, user, calls = make(pick(rng, MAKERS), rng, sp, now)
    if rng.random() < 0.15:
        k, pre = sp.prefixes[rng.randrange(len(sp.prefixes))]
        user, tid = pre + lower_first(user), f"pre.{k:02d}+{tid}"
    if rng.random() < 0.1:
        k, suf = sp.suffixes[rng.randrange(len(sp.suffixes))]
        user, tid = user + suf, f"{tid}+suf.{k:02d}"
    return tid, user, calls


def developer_text(now, activation=ACTIVATION):
    return (f"Current date and time given in YYYY-MM-DDTHH:MM:SS format: {now.strftime('%Y-%m-%dT%H:%M:%S')}\n"
            f"Day of week is {now.strftime('%A')}\n{activation}")


class Toolset:
    """What a training row's developer turn declares: Pocket's tools in some order, maybe renamed,
    one missing or others' tools beside them, and its activation sentence."""

    def __init__(self, tools, names, params, activation):
        self.tools, self.names, self.params, self.activation = tools, names, params, activation

    def rewrite(self, calls):
        """The calls as this tool set names them, or None when a called tool is missing."""
        out = []
        for c in calls:
            f = c["function"]
            if f["name"] not in self.names:
                return None
            args = {self.params.get(f["name"], {}).get(k, k): v for k, v in f["arguments"].items()}
            out.append(call(self.names[f["name"]], **args))
        return out


def renamed_tool(t, new_name, param_map):
    f = json.loads(json.dumps(t["function"]))
    f["name"] = new_name
    props = f["parameters"]["properties"]
    f["parameters"]["properties"] = {param_map.get(k, k): v for k, v in props.items()}
    f["parameters"]["required"] = [param_map.get(k, k) for k in f["parameters"]["required"]]
    return {"function": f}


def train_toolset(rng):
    order = TOOLS[:]
    rng.shuffle(order)
    names = {n: n for n in TOOL_NAMES}
    params = {}
    r = rng.random()
    if r < 0.12:  # renamed tools (and some parameters)
        for n in TOOL_NAMES:
            if rng.random() < 0.6:
                names[n] = pick(rng, RENAMES[n])
            if rng.random() < 0.3:
                params[n] = dict(PARAM_RENAMES)
        order = [renamed_tool(t, names[t["function"]["name"]], params.get(t["function"]["name"], {})) for t in order]
    elif r < 0.2:  # one or two tools missing
        for t in rng.sample(order, rng.randint(1, 2)):
            order.remove(t)
            del names[t["function"]["name"]]
    elif r < 0.3:  # other apps' tools beside them
        for d in rng.sample(DISTRACTORS, rng.randint(1, 3)):
            order.insert(rng.randrange(len(order) + 1), d)
    activation = pick(rng, OTHER_ACTIVATIONS) if rng.random() < 0.15 else ACTIVATION
    return Toolset(order, names, params, activation)


def split_list(rng, items):
    """Items (with their index) divided among the splits by SHARES; at least two per split."""
    idx = list(range(len(items)))
    rng.shuffle(idx)
    n_test = max(2, round(len(items) * SHARES["test"]))
    n_val = max(2, round(len(items) * SHARES["validation"]))
    parts = {"test": idx[:n_test], "validation": idx[n_test:n_test + n_val], "train": idx[n_test + n_val:]}
    return {k: [(i, items[i]) for i in sorted(v)] for k, v in parts.items()}


def split_pools(rng):
    pools = {k: {} for k in SHARES}
    numeric = {"minutes": list(range(1, 121)), "duration": [15, 20, 30, 45, 60, 75, 90, 120, 150, 180, 25, 40, 50, 100],
               "celsius": [x / 2 for x in range(32, 54)], "clock": [(h, m) for h in range(5, 23) for m in (0, 5, 10, 15, 20, 30, 40, 45, 50)]}
    for name, values in list(POOLS.items()) + list(numeric.items()):
        values = sorted(values)
        for k, part in split_list(rng, values).items():
            pools[k][name] = [v for _, v in part]
    return pools


def nows(rng, count, months):
    return [dt.datetime(2026, pick(rng, months), rng.randint(1, 28), rng.randint(7, 21), rng.randrange(0, 60)) for _ in range(count)]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--train", type=int, default=4800)
    ap.add_argument("--validation", type=int, default=240)
    ap.add_argument("--test", type=int, default=400)
    ap.add_argument("--out", type=Path, default=HERE)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    pools = split_pools(rng)
    frames = {fam: split_list(rng, fs) for fam, fs in FRAMES.items()}
    joiners, prefixes, suffixes = split_list(rng, JOINERS), split_list(rng, PREFIXES), split_list(rng, SUFFIXES)
    months = {"train": [1, 2, 4, 5, 7, 8, 10, 11], "validation": [3, 9], "test": [6, 12]}
    counts = {"train": args.train, "validation": args.validation, "test": args.test}
    n_nows = {"train": 16, "validation": 3, "test": 4}
    metadata = {"train": "train", "validation": "validation", "test": "eval"}
    seen = set()
    # Test first, then validation, then training, each from a stream of its own: the held-out
    # files do not move when the training mix does (training skips their requests).
    for name in ["test", "validation", "train"]:
        rng = random.Random(f"{args.seed}/{name}")
        sp = Split(name, {fam: parts[name] for fam, parts in frames.items()}, joiners[name], prefixes[name], suffixes[name],
                   pools[name], nows(rng, n_nows[name], months[name]))
        # Training rows: three tool sets per "now" (each a prompt prefix the rows share).
        contexts = [(now, train_toolset(rng) if name == "train" else Toolset(TOOLS, {n: n for n in TOOL_NAMES}, {}, ACTIVATION))
                    for now in sp.nows for _ in range(3 if name == "train" else 1)]
        rows = []
        while len(rows) < counts[name]:
            now, ts = pick(rng, contexts)
            tid, user, calls = request(rng, sp, now)
            if user.lower() in seen:
                continue  # never the same request twice, within or across the splits
            calls = ts.rewrite(calls)
            if calls is None:
                calls, tid = [], tid + "+missing_tool"
            seen.add(user.lower())
            assistant = {"role": "assistant", "tool_calls": calls} if calls else {"role": "assistant", "content": NO_TOOL_REPLY}
            rows.append({"metadata": metadata[name], "id": f"app_{metadata[name]}_{len(rows):05d}", "category": "app", "template": tid,
                         "tools": ts.tools, "messages": [{"role": "developer", "content": developer_text(now, ts.activation)},
                                                         {"role": "user", "content": user}, assistant]})
        with open(args.out / f"{name}.jsonl", "w") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        calls = [len(r["messages"][2].get("tool_calls", [])) for r in rows]
        print(f"{name}: {len(rows)} rows ({calls.count(0)} no call, {calls.count(1)} one call, {calls.count(2)} two calls)")


if __name__ == "__main__":
    main()
