"""Example: A/B two loaded checkpoints on a few cases, then a streamed generation.

    fgbench serve --socket /tmp/fg.sock --model base=demo --model other=demo \
        --dataset datasets/demo.jsonl &
    python3 clients/python/example.py /tmp/fg.sock base other demo_simple_0 demo_irrelevance_0
"""

import sys

from fgbench_client import Client, ServerError


def main():
    path, a, b, *cases = sys.argv[1:]
    with Client(path) as c:
        print("server:", c.hello()["server"])
        for m in c.models():
            e = m["model"]["engine"]
            print(f"  {m['name']}: {e['engine']} {e.get('quantization') or e['dtype']} on {e['device']}")
        for case in cases:
            r = c.compare([a, b], case_id=case, settings={"max_new_tokens": 48})
            for name, out in r["results"].items():
                verdict = out.get("verdict", {}).get("valid")
                print(f"{case} {name}: valid={verdict} calls={len(out['calls'])} {out['timings']['total_ms']:.0f} ms")
            print(f"{case}: identical outputs: {r['identical']}")
        print("streamed:", end=" ", flush=True)
        r = c.generate(a, on_token=lambda t: print(repr(t), end=" ", flush=True), prompt="<bos>Hello", settings={"max_new_tokens": 8})
        print("\nfinish:", r["finish_reason"])
        try:
            c.call("no-such-model", case_id=cases[0])
        except ServerError as e:
            print("typed error:", e.code)
        print("stats:", c.stats()["served"], "served")


if __name__ == "__main__":
    main()
