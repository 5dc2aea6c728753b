#!/usr/bin/env python3
"""Runs the deployment runtimes' own FunctionGemma parsers on raw model outputs, for
fgbench's differential test of its runtime profiles (src/runtime/).

    python3 python/runtime_parsers.py ensure-venv VENV        # a venv with `regex`
    VENV/bin/python python/runtime_parsers.py calls --vllm-wheel W --mlx-wheel W < outputs.jsonl

Each input line is {"output": TEXT}; each output line is {"vllm": CALLS, "mlx": CALLS}, the
calls a client of that server receives: [{"name": ..., "arguments": {...}}], the arguments
after the server's JSON encoding and the client's decoding. Non-finite floats are written
as {"$float": "nan" | "inf" | "-inf"}, which JSON cannot hold.

- vLLM: `vllm/tool_parsers/functiongemma_tool_parser.py`, taken from the wheel and loaded
  alone, its imports stubbed (the classes it builds its result from, a logger); then
  `FunctionGemmaToolParser(None).extract_tool_calls(text, None)` as the non-streaming chat
  completion calls it.
- mlx-lm: `mlx_lm/tool_parsers/function_gemma.py` from the wheel, and the server's own
  `TextStateMachine` (with `_build_trie`) lifted out of `mlx_lm/generate.py` by its syntax
  tree, since that module imports mlx, which does not install here. The transitions are the
  ones `make_text_state_machine` builds for a tool-calling tokenizer without thinking; the
  loop that collects tool texts and the formatter that drops a text the parser raises on
  follow `mlx_lm/server.py`.
"""
import ast
import json
import math
import subprocess
import sys
import tempfile
import types
import zipfile
from pathlib import Path

REGEX = "regex==2026.5.9"
VLLM_PARSER = "vllm/tool_parsers/functiongemma_tool_parser.py"
MLX_PARSER = "mlx_lm/tool_parsers/function_gemma.py"
MLX_GENERATE = "mlx_lm/generate.py"


def ensure_venv(venv: Path) -> None:
    py = venv / "bin" / "python"
    if py.exists() and subprocess.run([str(py), "-c", "import regex"], capture_output=True).returncode == 0:
        return
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", REGEX], check=True)


def stub(name, **attrs):
    m = types.ModuleType(name)
    m.__dict__.update(attrs)
    sys.modules[name] = m
    return m


class Record:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def load_vllm(wheel: Path, tmp: Path):
    for pkg in ["vllm", "vllm.entrypoints", "vllm.entrypoints.generate", "vllm.entrypoints.generate.base",
                "vllm.entrypoints.openai", "vllm.entrypoints.openai.chat_completion", "vllm.entrypoints.openai.responses",
                "vllm.renderers", "vllm.tool_parsers"]:
        stub(pkg, __path__=[])
    stub("vllm.entrypoints.generate.base.protocol", DeltaFunctionCall=Record, DeltaMessage=Record, DeltaToolCall=Record,
         ExtractedToolCallInformation=Record, FunctionCall=Record, ToolCall=Record)
    stub("vllm.entrypoints.openai.chat_completion.protocol", ChatCompletionRequest=object)
    stub("vllm.entrypoints.openai.responses.protocol", ResponsesRequest=object)
    stub("vllm.logger", init_logger=lambda name: types.SimpleNamespace(exception=lambda *a, **k: None, debug=lambda *a, **k: None))
    stub("vllm.renderers.chat_utils", make_tool_call_id=lambda: "call")
    stub("vllm.tokenizers", TokenizerLike=object)

    class ToolParser:
        def __init__(self, tokenizer, tools=None):
            self.model_tokenizer = tokenizer

    stub("vllm.tool_parsers.abstract_tool_parser", Tool=object, ToolParser=ToolParser)
    with zipfile.ZipFile(wheel) as z:
        source = z.read(VLLM_PARSER).decode()
    module = types.ModuleType("functiongemma_tool_parser")
    exec(compile(source, f"{wheel.name}/{VLLM_PARSER}", "exec"), module.__dict__)
    parser = module.FunctionGemmaToolParser(None)

    def calls(text):
        info = parser.extract_tool_calls(text, None)
        if not info.tools_called:
            return []
        return [{"name": c.function.name, "arguments": json.loads(c.function.arguments)} for c in info.tool_calls]

    return calls


def load_mlx(wheel: Path):
    with zipfile.ZipFile(wheel) as z:
        parser_src = z.read(MLX_PARSER).decode()
        generate_src = z.read(MLX_GENERATE).decode()
    parser = types.ModuleType("function_gemma")
    exec(compile(parser_src, f"{wheel.name}/{MLX_PARSER}", "exec"), parser.__dict__)
    # TextStateMachine and the trie it runs on, lifted out of generate.py.
    tree = ast.parse(generate_src)
    wanted = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.ClassDef)) and n.name in ("_build_trie", "TextStateMachine")]
    assert len(wanted) == 2, "generate.py no longer defines _build_trie and TextStateMachine"
    ns = {}
    exec("from collections import deque", ns)
    exec(compile(ast.Module(body=wanted, type_ignores=[]), f"{wheel.name}/{MLX_GENERATE}", "exec"), ns)
    sm_class = ns["TextStateMachine"]
    sm = sm_class({"normal": [(parser.tool_call_start, "tool")], "tool": [(parser.tool_call_end, "normal")]})

    def calls(text):
        # server.py's loop, for one chunk that ends the generation by length (flushed).
        state = sm.make_state("normal")
        state, segments = sm_class.split(state, text)
        state, flushed, current = sm_class.flush(state)
        segments.append((current, flushed))
        prev, tool_text, tool_calls = "normal", "", []
        for current, clean in segments:
            if current == "tool":
                tool_text += clean
            elif current == "normal":
                if prev == "tool":
                    tool_calls.append(tool_text)
                    tool_text = ""
            prev = current
        if prev == "tool" and tool_text:
            tool_calls.append(tool_text)
        out = []
        for t in tool_calls:  # ToolCallFormatter
            try:
                parsed = parser.parse_tool_call(t, None)
            except (ValueError, json.JSONDecodeError):
                continue
            for tc in parsed if isinstance(parsed, list) else [parsed]:
                out.append({"name": tc["name"], "arguments": json.loads(json.dumps(tc["arguments"], ensure_ascii=False))})
        return out

    return calls


def portable(v):
    if isinstance(v, float) and not math.isfinite(v):
        return {"$float": "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")}
    if isinstance(v, list):
        return [portable(x) for x in v]
    if isinstance(v, dict):
        return {k: portable(x) for k, x in v.items()}
    return v


def main():
    if sys.argv[1] == "ensure-venv":
        ensure_venv(Path(sys.argv[2]))
        return
    args = dict(zip(sys.argv[2::2], sys.argv[3::2]))
    with tempfile.TemporaryDirectory() as tmp:
        vllm = load_vllm(Path(args["--vllm-wheel"]), Path(tmp))
        mlx = load_mlx(Path(args["--mlx-wheel"]))
        for line in sys.stdin:
            text = json.loads(line)["output"]
            print(json.dumps({"vllm": portable(vllm(text)), "mlx": portable(mlx(text))}, ensure_ascii=False, allow_nan=False))


if __name__ == "__main__":
    main()
