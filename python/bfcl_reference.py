#!/usr/bin/env python3
"""BFCL's own verdicts on FunctionGemma outputs: the reference fgbench's scorer must match.

Runs BFCL's unmodified code from the bfcl-eval wheel: FunctionGemmaHandler.decode_ast (the
output decoder), ast_checker (the AST rules) and utils.is_empty_output / is_function_calling_
format_output (the relevance logic), on BFCL's original data files.

The wheel's import graph pulls in every API client BFCL supports (openai, anthropic, torch via
sentence-transformers, ...), none of which the checker uses. So the venv holds the wheel with
--no-deps plus the two small packages on the checker's path (overrides, filelock), and two
modules that only exist to register model handlers are replaced by stand-ins before import:
the model registry (only FunctionGemma's entry, underscore_to_dot=False, as in the wheel) and
the OSS handler base class (the decoder never touches it).

    python3 python/bfcl_reference.py ensure-venv VENV WHEEL
    VENV/bin/python python/bfcl_reference.py verdicts --data DATA_DIR --predictions P.jsonl --out V.jsonl
    VENV/bin/python python/bfcl_reference.py prompts  --data DATA_DIR --out prompts.jsonl
"""
import argparse
import json
import subprocess
import sys
import time
import types
from pathlib import Path

MODEL_KEY = "google/functiongemma-270m-it-FC"
MODEL_NAME = MODEL_KEY.replace("/", "_")


def ensure_venv(venv: Path, wheel: Path) -> None:
    py = venv / "bin" / "python"
    if py.exists():
        ok = subprocess.run([str(py), "-c", "import bfcl_eval, overrides, filelock"], capture_output=True)
        if ok.returncode == 0:
            return
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
    # --no-deps: pip then warns about the API clients it skipped; that noise is expected.
    subprocess.run(pip + ["--no-deps", str(wheel)], check=True, stderr=subprocess.DEVNULL)
    subprocess.run(pip + ["overrides==7.7.0", "filelock==3.20.0"], check=True)


def load_bfcl():
    registry = types.ModuleType("bfcl_eval.constants.model_config")
    registry.MODEL_CONFIG_MAPPING = {MODEL_KEY: types.SimpleNamespace(underscore_to_dot=False)}
    sys.modules[registry.__name__] = registry
    base = types.ModuleType("bfcl_eval.model_handler.local_inference.base_oss_handler")

    class OSSHandler:  # the decoder and prompt formatter never call into the base class
        # The methods FunctionGemmaHandler marks @override must exist on its base.
        def _pre_query_processing_prompting(self, test_entry): ...
        def _format_prompt(self, messages, function): ...
        def decode_ast(self, result, language, has_tool_call_tag): ...
        def decode_execute(self, result, has_tool_call_tag): ...

    base.OSSHandler = OSSHandler
    sys.modules[base.__name__] = base
    from bfcl_eval.constants.enums import Language, ReturnFormat
    from bfcl_eval.eval_checker.ast_eval.ast_checker import ast_checker
    from bfcl_eval.model_handler.local_inference.functiongemma import FunctionGemmaHandler
    from bfcl_eval.utils import is_empty_output, is_function_calling_format_output

    handler = FunctionGemmaHandler.__new__(FunctionGemmaHandler)
    return types.SimpleNamespace(
        Language=Language,
        ReturnFormat=ReturnFormat,
        ast_checker=ast_checker,
        handler=handler,
        is_empty_output=is_empty_output,
        is_function_calling_format_output=is_function_calling_format_output,
    )


def category_of(case_id: str) -> str:
    return case_id.rsplit("_", 1)[0]


def read_jsonl(path: Path) -> dict:
    out = {}
    if path.exists():
        for line in path.open():
            if line.strip():
                d = json.loads(line)
                out[d["id"]] = d
    return out


def load_data(data: Path, categories) -> tuple:
    entries, answers = {}, {}
    for cat in categories:
        entries.update(read_jsonl(data / f"BFCL_v4_{cat}.json"))
        answers.update(read_jsonl(data / "possible_answer" / f"BFCL_v4_{cat}.json"))
    return entries, answers


def verdict(b, entry, answer, category, output):
    """The verdict logic of bfcl_eval/eval_checker/eval_runner.py for one output."""
    if "relevance" in category:  # _evaluate_single_relevance_entry
        try:
            decoded = b.handler.decode_ast(output, language=b.ReturnFormat.PYTHON, has_tool_call_tag=False)
            contain_call = not b.is_empty_output(decoded)
        except Exception:
            contain_call = False
        if "irrelevance" in category:
            return (not contain_call, None if not contain_call else "irrelevance_error:decoder_success")
        return (contain_call, None if contain_call else "relevance_error:decoder_failed")
    try:  # _evaluate_single_ast_entry
        decoded = b.handler.decode_ast(output, b.ReturnFormat.PYTHON, False)
    except Exception:
        return (False, "ast_decoder:decoder_failed")
    if not b.is_function_calling_format_output(decoded):
        return (False, "ast_decoder:decoder_wrong_output_format")
    r = b.ast_checker(entry["function"], decoded, answer["ground_truth"], b.Language.PYTHON, category, MODEL_NAME)
    return (r["valid"], None if r["valid"] else r["error_type"])


def cmd_verdicts(args) -> None:
    b = load_bfcl()
    preds = [json.loads(l) for l in Path(args.predictions).open() if l.strip()]
    cats = sorted({category_of(p["id"]) for p in preds})
    entries, answers = load_data(Path(args.data), cats)
    rows = []
    start = time.perf_counter()
    for p in preds:
        cat = category_of(p["id"])
        try:
            valid, etype = verdict(b, entries[p["id"]], answers.get(p["id"]), cat, p["output"])
        except Exception as e:  # BFCL itself crashed on this output: record it as such
            valid, etype = False, f"bfcl_crash:{type(e).__name__}"
        rows.append({"id": p["id"], "n": p.get("n"), "valid": valid, "error_type": etype})
    elapsed = time.perf_counter() - start
    with open(args.out, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    print(json.dumps({"outputs": len(rows), "seconds": elapsed}))


def cmd_prompts(args) -> None:
    """The prompt BFCL's generation step renders: the language hint BFCL adds to every
    function description when it loads a test case, then FunctionGemmaHandler._format_prompt."""
    import copy

    b = load_bfcl()
    from bfcl_eval.utils import _func_doc_language_specific_pre_processing

    cats = args.categories.split(",")
    with open(args.out, "w") as f:
        for cat in cats:
            entries, _ = load_data(Path(args.data), [cat])
            for case_id, e in entries.items():
                functions = _func_doc_language_specific_pre_processing(copy.deepcopy(e["function"]), cat)
                prompt = b.handler._format_prompt(e["question"][0], functions)
                f.write(json.dumps({"id": case_id, "prompt": prompt}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    v = sub.add_parser("ensure-venv")
    v.add_argument("venv", type=Path)
    v.add_argument("wheel", type=Path)
    s = sub.add_parser("verdicts")
    s.add_argument("--data", required=True)
    s.add_argument("--predictions", required=True)
    s.add_argument("--out", required=True)
    p = sub.add_parser("prompts")
    p.add_argument("--data", required=True)
    p.add_argument("--categories", required=True)
    p.add_argument("--out", required=True)
    args = ap.parse_args()
    if args.cmd == "ensure-venv":
        ensure_venv(args.venv, args.wheel)
    elif args.cmd == "verdicts":
        cmd_verdicts(args)
    else:
        cmd_prompts(args)


if __name__ == "__main__":
    main()
