#!/usr/bin/env python3
"""Fine-tunes a Gemma 3 / FunctionGemma checkpoint on examples fgbench renders
(`fgbench datasets export-train`: `prompt` + target `completion` per line).

    python/setup-train-venv.sh                      # creates ~/.cache/fgbench/venv-train
    fgbench datasets export-train --from datasets/app/train.jsonl \\
        --check-against datasets/app/test.jsonl --out train.jsonl
    ~/.cache/fgbench/venv-train/bin/python python/finetune.py \\
        --model ~/.cache/fgbench/models/gemma-3-270m-demo --train train.jsonl --out runs/app

The recipe that works for a model of this size (LoRA on every projection, r=16, a peak lr
of 4e-4 with warm-up and cosine decay, completion-only loss; docs/finetune.md); `--full` trains every weight instead
(lr around 1e-5 to 5e-5). Uses the GPU when torch sees one, and unsloth when it is installed
and a GPU is present (PEFT otherwise).

Shared prefixes. Every example of an app starts with the same tokens (bos, the developer
turn, the tool declarations); only the user turn and the target differ. Each step draws
its batch from one prefix group, runs the prefix once (without gradient, with the current
weights) and the batch's suffixes on top of its cached keys and values. The forward pass is
exactly the full-sequence one; gradients do not flow into the prefix's keys and values. On
2 CPU cores this is what makes an app fine-tune fit in under an hour (docs/finetune.md).
`--no-prefix-cache` runs every example whole.

Writes OUT/adapter (PEFT: adapter_config.json + adapter_model.safetensors, which
`fgbench eval --adapter` loads), OUT/merged (a Hugging Face checkpoint with the adapter
merged, which `fgbench eval --model` loads) and OUT/train_log.json (settings, data hash,
loss per step, seconds).
"""
import argparse
import hashlib
import json
import math
import random
import shutil
import time
from collections import defaultdict
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, DynamicCache, PreTrainedTokenizerFast

LORA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def load_examples(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class Example:
    """Token ids of one example, split where its shared prefix ends."""

    def __init__(self, prefix, suffix, n_completion):
        self.prefix, self.suffix, self.n_completion = prefix, suffix, n_completion


def encode(tok, ex, turn_id):
    # The prompt already holds <bos> as text (fgbench renders it): no special tokens added.
    p = tok(ex["prompt"], add_special_tokens=False)["input_ids"]
    c = tok(ex["completion"], add_special_tokens=False)["input_ids"]
    # The shared prefix ends where the last turn before the generation prompt starts (the
    # user's), so it holds bos, the developer turn and the declarations. Splitting the token
    # list (not the text) keeps the tokens exactly those of the whole prompt.
    starts = [i for i, t in enumerate(p) if t == turn_id]
    cut = starts[-2] if len(starts) >= 2 else 0
    return Example(p[:cut], p[cut:] + c, len(c))


def cast_safetensors(path, dtype):
    """Rewrites a safetensors file with every floating tensor in `dtype`."""
    from safetensors.torch import load_file, save_file
    tensors = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in load_file(str(path)).items()}
    save_file(tensors, str(path), metadata={"format": "pt"})


def lr_at(step, total, base, warmup):
    if step < warmup:
        return base * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return base * 0.5 * (1 + math.cos(math.pi * progress))


def suffix_loss(model, lm_head, prefix, batch, device, pad_id):
    """Cross-entropy over the completion tokens only; logits computed only where needed.

    With a prefix, it is run once without gradient and its cache expanded to the batch."""
    n = len(batch)
    past = None
    if prefix:
        # An explicit cache: the model makes none of its own in training mode.
        past = DynamicCache(config=model.config)
        with torch.no_grad():
            model(input_ids=torch.tensor([prefix], device=device), past_key_values=past, use_cache=True)
        past.batch_repeat_interleave(n)
    longest = max(len(e.suffix) for e in batch)
    ids = torch.full((n, longest), pad_id, dtype=torch.long)
    mask = torch.zeros((n, len(prefix) + longest), dtype=torch.long)
    mask[:, : len(prefix)] = 1
    for i, e in enumerate(batch):
        ids[i, : len(e.suffix)] = torch.tensor(e.suffix)
        mask[i, len(prefix) : len(prefix) + len(e.suffix)] = 1
    ids, mask = ids.to(device), mask.to(device)
    positions = torch.arange(len(prefix), len(prefix) + longest, device=device).unsqueeze(0).expand(n, -1)
    kwargs = {"past_key_values": past, "use_cache": past is not None} if past is not None else {}
    hidden = model(input_ids=ids, attention_mask=mask, position_ids=positions, **kwargs).last_hidden_state
    rows, cols, targets = [], [], []
    for i, e in enumerate(batch):
        first = len(e.suffix) - e.n_completion
        for j in range(e.n_completion):
            rows.append(i)
            cols.append(first + j - 1)  # the position that predicts completion token j
            targets.append(e.suffix[first + j])
    h = hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)]
    logits = lm_head(h).float()
    return torch.nn.functional.cross_entropy(logits, torch.tensor(targets, device=device), reduction="sum"), len(targets)


def batches(groups, batch, rng):
    """An epoch as batches, each from one prefix group, in random order."""
    out = []
    for prefix, members in groups.items():
        members = members[:]
        rng.shuffle(members)
        out.extend((prefix, members[i : i + batch]) for i in range(0, len(members), batch))
    rng.shuffle(out)
    return out


def finish_log(log, start, seen, n_examples):
    import resource
    log["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    log["seconds"] = round(time.time() - start, 1)
    log["examples_seen"] = seen
    log["epochs_seen"] = round(seen / n_examples, 3)


def save_adapter(model, out, args, log, start, seen, n_examples):
    """OUT/adapter and OUT/train_log.json as of now (a checkpoint, or the end)."""
    finish_log(log, start, seen, n_examples)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out / "adapter", safe_serialization=True)
    if args.adapter_dtype == "f16":
        cast_safetensors(out / "adapter" / "adapter_model.safetensors", torch.float16)
    (out / "train_log.json").write_text(json.dumps(log, indent=2))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="Hugging Face model directory (e.g. the imported demo model)")
    ap.add_argument("--train", required=True, help="fgbench datasets export-train output")
    ap.add_argument("--out", required=True)
    ap.add_argument("--epochs", type=float, default=1.0, help="passes over the data (fractions allowed)")
    ap.add_argument("--steps", type=int, default=0, help="optimizer steps (overrides --epochs when > 0)")
    ap.add_argument("--batch", type=int, default=16, help="examples per micro-batch (one prefix group each)")
    ap.add_argument("--accum", type=int, default=1, help="micro-batches per optimizer step")
    ap.add_argument("--lr", type=float, default=None, help="peak learning rate (default 4e-4 LoRA, 2e-5 --full)")
    ap.add_argument("--warmup", type=float, default=0.05, help="share of steps spent warming up")
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=int, default=None, help="LoRA alpha (default 2 x rank)")
    ap.add_argument("--full", action="store_true", help="train every weight instead of a LoRA adapter")
    ap.add_argument("--precision", choices=["auto", "f32", "bf16"], default="auto",
                    help="bf16 autocast (weights stay f32) or plain f32; auto: bf16 where the GPU or CPU has "
                         "bf16 units (AVX512-BF16, AMX), where it halves a step's time")
    ap.add_argument("--no-prefix-cache", action="store_true", help="run every example whole")
    ap.add_argument("--time-budget", type=float, default=0, help="stop after this many minutes (0: none)")
    ap.add_argument("--adapter-dtype", choices=["f16", "f32"], default="f16",
                    help="weight type the adapter is saved in (f16 halves it; trained in f32 either way)")
    ap.add_argument("--save-every", type=int, default=25,
                    help="write OUT/adapter and OUT/train_log.json every N steps (0: only at the end), so a run "
                         "that is killed leaves its last checkpoint")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", choices=["auto", "peft", "unsloth"], default="auto",
                    help="auto: unsloth when it is installed and a GPU is present, else PEFT")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model_dir, out = Path(args.model), Path(args.out)
    tok = PreTrainedTokenizerFast(tokenizer_file=str(model_dir / "tokenizer.json"))
    pad_id = tok.convert_tokens_to_ids("<pad>") or 0
    turn_id = tok.convert_tokens_to_ids("<start_of_turn>")
    lr = args.lr or (2e-5 if args.full else 4e-4)
    if args.precision == "auto":
        bf16_units = torch.cuda.is_bf16_supported() if device == "cuda" else torch.cpu._is_avx512_bf16_supported()
        args.precision = "bf16" if bf16_units else "f32"
    bf16 = args.precision == "bf16"
    backend = args.backend
    if args.full:
        backend = "full"
    elif backend == "auto":
        try:
            import unsloth  # noqa: F401  (only useful, and only importable, with a GPU)
            backend = "unsloth" if device == "cuda" else "peft"
        except Exception:
            backend = "peft"
    alpha = args.alpha or 2 * args.rank
    # Eager attention: the cached-prefix forward needs its masks built exactly as for a
    # whole sequence, sliding-window layers included.
    if backend == "unsloth":
        from unsloth import FastLanguageModel
        base, _ = FastLanguageModel.from_pretrained(str(model_dir), dtype=torch.float32, load_in_4bit=False)
        model = FastLanguageModel.get_peft_model(base, r=args.rank, lora_alpha=alpha, lora_dropout=0.0,
                                                 target_modules=LORA_TARGETS, random_state=args.seed)
    else:
        base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32, attn_implementation="eager").to(device)
        if backend == "full":
            model = base
        else:
            from peft import LoraConfig, get_peft_model
            lora = LoraConfig(r=args.rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=LORA_TARGETS, task_type="CAUSAL_LM")
            model = get_peft_model(base, lora)
    inner = model if backend == "full" else model.base_model.model  # Gemma3ForCausalLM
    if backend == "full":
        inner.model.embed_tokens.weight.requires_grad_(False)  # tied with the output layer; 60% of the weights
    trainable = [p for p in model.parameters() if p.requires_grad]
    print(f"fine-tuning with {backend} on {device} ({args.precision}): {sum(p.numel() for p in trainable):,} trainable parameters", flush=True)
    opt = torch.optim.AdamW(trainable, lr=lr, weight_decay=0.0)

    raw = load_examples(args.train)
    examples = [encode(tok, ex, turn_id) for ex in raw]
    groups = defaultdict(list)
    for e in examples:
        if args.no_prefix_cache:
            groups[()].append(Example([], e.prefix + e.suffix, e.n_completion))
        else:
            groups[tuple(e.prefix)].append(e)
    steps_per_epoch = math.ceil(sum(math.ceil(len(m) / args.batch) for m in groups.values()) / args.accum)
    total = args.steps or max(1, round(steps_per_epoch * args.epochs))
    warmup = max(1, round(total * args.warmup))
    prefix_lens = sorted({len(p) for p in groups})
    print(f"{len(examples)} examples in {len(groups)} prefix group(s) (prefix tokens {prefix_lens[0]}-{prefix_lens[-1]}); "
          f"{total} steps of {args.batch} x {args.accum}", flush=True)
    log = {"model": str(model_dir), "train": args.train, "train_sha256": sha256(args.train), "examples": len(examples),
           "device": device, "backend": backend, "rank": None if args.full else args.rank,
           "alpha": None if args.full else alpha, "targets": None if args.full else LORA_TARGETS, "lr": lr,
           "warmup_steps": warmup, "schedule": "linear warm-up, cosine decay", "batch": args.batch, "accum": args.accum,
           "planned_steps": total, "prefix_cache": not args.no_prefix_cache, "prefix_groups": len(groups),
           "precision": args.precision, "adapter_dtype": args.adapter_dtype, "seed": args.seed, "torch": torch.__version__,
           "time_budget_min": args.time_budget or None, "steps": []}
    start = time.time()
    model.train()
    queue = []
    seen = 0
    for step in range(total):
        t0 = time.time()
        for group in opt.param_groups:
            group["lr"] = lr_at(step, total, lr, warmup)
        opt.zero_grad()
        loss_sum, tokens = 0.0, 0
        for _ in range(args.accum):
            if not queue:
                queue = batches(groups, args.batch, rng)
            prefix, batch = queue.pop()
            # No autocast cache: it would keep the no-grad prefix pass's casts, without grad.
            with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=bf16, cache_enabled=False):
                loss, n = suffix_loss(inner.model, inner.lm_head, list(prefix), batch, device, pad_id)
            loss.backward()
            loss_sum, tokens, seen = loss_sum + loss.item(), tokens + n, seen + len(batch)
        for p in trainable:  # the mean over every completion token of the step
            if p.grad is not None:
                p.grad.div_(tokens)
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        opt.step()
        mean = loss_sum / tokens
        dt = time.time() - t0
        log["steps"].append({"step": step + 1, "loss": round(mean, 5), "lr": opt.param_groups[0]["lr"], "seconds": round(dt, 2), "examples": seen})
        print(f"step {step + 1}/{total} loss {mean:.4f} lr {opt.param_groups[0]['lr']:.2e} ({dt:.1f}s, {seen} examples)", flush=True)
        if args.save_every and backend != "full" and (step + 1) % args.save_every == 0 and step + 1 < total:
            save_adapter(model, out, args, log, start, seen, len(examples))
        if args.time_budget and time.time() - start > args.time_budget * 60:
            print(f"time budget of {args.time_budget} min reached after {step + 1} steps", flush=True)
            break
    if backend == "full":
        finish_log(log, start, seen, len(examples))
        merged = model
    else:
        save_adapter(model, out, args, log, start, seen, len(examples))
        merged = model.merge_and_unload()
    merged.save_pretrained(out / "merged", safe_serialization=True)
    for f in ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]:
        if (model_dir / f).exists():
            shutil.copy(model_dir / f, out / "merged" / f)
    (out / "train_log.json").write_text(json.dumps(log, indent=2))
    print(f"trained {log['seconds']:.0f}s; adapter: {out / 'adapter'}\nmerged: {out / 'merged'}\nlog: {out / 'train_log.json'}")


if __name__ == "__main__":
    main()
