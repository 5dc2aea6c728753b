#!/usr/bin/env python3
"""LoRA fine-tuning of a Gemma 3 / FunctionGemma checkpoint on fgbench's training export.

    python/setup-train-venv.sh                      # creates ~/.cache/fgbench/venv-train
    fgbench datasets export-train --out train.jsonl # prompts rendered by fgbench itself
    ~/.cache/fgbench/venv-train/bin/python python/finetune.py \\
        --model ~/.cache/fgbench/models/gemma-3-270m-demo --train train.jsonl --out runs/lora

Loss on the completion tokens only, and the output layer (the tied 262k-row embedding, most
of the model's FLOPs) is applied only at those positions. Writes OUT/adapter (PEFT:
adapter_config.json + adapter_model.safetensors, which `fgbench eval --adapter` loads),
OUT/merged (a Hugging Face checkpoint with the adapter merged) and OUT/train_log.json
(loss per step, examples, seconds). Uses the GPU when torch sees one.
"""
import argparse
import json
import random
import shutil
import time
from pathlib import Path

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast


def load_examples(path):
    return [json.loads(line) for line in open(path) if line.strip()]


def encode(tok, ex):
    # The prompt already holds <bos> as text (fgbench renders it): no special tokens added.
    p = tok(ex["prompt"], add_special_tokens=False)["input_ids"]
    c = tok(ex["completion"], add_special_tokens=False)["input_ids"]
    return p, c


def batch_loss(model, lm_head, batch, device, pad_id):
    """Cross-entropy over completion tokens only; logits computed only where needed."""
    longest = max(len(p) + len(c) for p, c in batch)
    ids = torch.full((len(batch), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), longest), dtype=torch.long)
    for i, (p, c) in enumerate(batch):
        seq = p + c
        ids[i, : len(seq)] = torch.tensor(seq)
        mask[i, : len(seq)] = 1
    ids, mask = ids.to(device), mask.to(device)
    hidden = model(input_ids=ids, attention_mask=mask).last_hidden_state
    rows, cols, targets = [], [], []
    for i, (p, c) in enumerate(batch):
        for j in range(len(c)):
            rows.append(i)
            cols.append(len(p) + j - 1)  # the position that predicts completion token j
            targets.append(c[j])
    h = hidden[torch.tensor(rows, device=device), torch.tensor(cols, device=device)]
    logits = lm_head(h).float()
    return torch.nn.functional.cross_entropy(logits, torch.tensor(targets, device=device))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True, help="Hugging Face model directory (e.g. the imported demo model)")
    ap.add_argument("--train", required=True, help="fgbench datasets export-train output")
    ap.add_argument("--out", required=True)
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--backend", choices=["auto", "peft", "unsloth"], default="auto",
                    help="auto: unsloth when it is installed and a GPU is present, else PEFT")
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    random.seed(args.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model_dir, out = Path(args.model), Path(args.out)
    tok = PreTrainedTokenizerFast(tokenizer_file=str(model_dir / "tokenizer.json"))
    pad_id = tok.convert_tokens_to_ids("<pad>") or 0
    backend = args.backend
    if backend == "auto":
        try:
            import unsloth  # noqa: F401  (only useful, and only importable, with a GPU)
            backend = "unsloth" if device == "cuda" else "peft"
        except Exception:
            backend = "peft"
    targets = ["q_proj", "k_proj", "v_proj", "o_proj"]
    if backend == "unsloth":
        # Unsloth's fused kernels; the adapter it writes is a plain PEFT adapter.
        from unsloth import FastLanguageModel
        base, _ = FastLanguageModel.from_pretrained(str(model_dir), dtype=torch.float32, load_in_4bit=False)
        model = FastLanguageModel.get_peft_model(base, r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.0,
                                                 target_modules=targets, random_state=args.seed)
    else:
        base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).to(device)
        lora = LoraConfig(r=args.rank, lora_alpha=2 * args.rank, lora_dropout=0.0, target_modules=targets, task_type="CAUSAL_LM")
        model = get_peft_model(base, lora)
    print(f"fine-tuning with {backend} on {device}", flush=True)
    model.print_trainable_parameters()
    inner = model.base_model.model  # Gemma3ForCausalLM with LoRA layers injected
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr)

    examples = [encode(tok, ex) for ex in load_examples(args.train)]
    log = {"model": str(model_dir), "train": args.train, "examples": len(examples), "steps": [], "device": device, "backend": backend,
           "rank": args.rank, "lr": args.lr, "batch": args.batch}
    start = time.time()
    model.train()
    for step in range(args.steps):
        batch = random.sample(examples, min(args.batch, len(examples)))
        t0 = time.time()
        loss = batch_loss(inner.model, inner.lm_head, batch, device, pad_id)
        opt.zero_grad()
        loss.backward()
        opt.step()
        log["steps"].append({"step": step + 1, "loss": loss.item(), "seconds": time.time() - t0})
        print(f"step {step + 1}/{args.steps} loss {loss.item():.4f} ({time.time() - t0:.1f}s)", flush=True)
    log["seconds"] = time.time() - start

    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out / "adapter", safe_serialization=True)
    merged = model.merge_and_unload()
    merged.save_pretrained(out / "merged", safe_serialization=True)
    for f in ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]:
        if (model_dir / f).exists():
            shutil.copy(model_dir / f, out / "merged" / f)
    (out / "train_log.json").write_text(json.dumps(log, indent=2))
    print(f"adapter: {out / 'adapter'}\nmerged: {out / 'merged'}\nlog: {out / 'train_log.json'}")


if __name__ == "__main__":
    main()
