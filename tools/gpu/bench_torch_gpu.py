"""PyTorch peer for `siglens bench` on a GPU: the same model, same weights, same timing.

Times SiglipModel.get_image_features / get_text_features the way `siglens bench` times
siglens: inputs made before the clock (random pixels in [-1, 1), random token ids, 64
tokens, no attention mask), and each timed run includes copying the inputs to the GPU,
the forward passes in batches, L2 normalisation and copying the embeddings back. Median
of --runs after --warmup. Eager mode (no torch.compile); attention as transformers picks
it by default (SDPA) unless --attn says otherwise.

Usage: python3 bench_torch_gpu.py --model DIR --dtype fp32|bf16 --batch 256 --images 1024 [--texts 1024]
Prints one JSON line.
"""
import argparse
import json
import statistics
import time

import torch
import transformers
from transformers import SiglipModel


def timed(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(runs):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts), min(ts)


def features(out):
    # transformers 5 returns a model output from get_*_features; 4.x a tensor.
    return out if torch.is_tensor(out) else out.pooler_output


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--images", type=int, default=1024)
    ap.add_argument("--texts", type=int, default=0)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--attn", default=None, help="attn_implementation (default: transformers' choice)")
    a = ap.parse_args()

    dt = {"fp32": torch.float32, "bf16": torch.bfloat16}[a.dtype]
    kw = {"attn_implementation": a.attn} if a.attn else {}
    model = SiglipModel.from_pretrained(a.model, dtype=dt, **kw).eval().to("cuda")
    cfg = model.config
    s = cfg.vision_config.image_size
    g = torch.Generator().manual_seed(0)
    res = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "gpu": torch.cuda.get_device_name(0),
        "dtype": a.dtype,
        "attn": getattr(cfg, "_attn_implementation", None),
        "batch_size": a.batch,
        "warmup": a.warmup,
        "runs": a.runs,
    }

    @torch.inference_mode()
    def embed(chunks, fn):
        out = []
        for c in chunks:
            c = c.to("cuda")
            e = features(fn(c.to(dt) if c.is_floating_point() else c))
            out.append((e / e.norm(dim=-1, keepdim=True)).float().cpu())
        return out

    if a.images:
        px = torch.rand(a.images, 3, s, s, generator=g) * 2 - 1
        # f32 pixels cross to the GPU and are cast there, as siglens does.
        chunks = list(px.split(a.batch))
        med, mn = timed(lambda: embed(chunks, lambda x: model.get_image_features(pixel_values=x)), a.warmup, a.runs)
        res["images"] = {"n": a.images, "median_s": med, "min_s": mn, "per_s": a.images / med}
    if a.texts:
        ids = torch.randint(0, cfg.text_config.vocab_size, (a.texts, cfg.text_config.max_position_embeddings), generator=g)
        chunks = list(ids.split(max(a.batch, 64)))
        med, mn = timed(lambda: embed(chunks, lambda x: model.get_text_features(input_ids=x)), a.warmup, a.runs)
        res["texts"] = {"n": a.texts, "median_s": med, "min_s": mn, "per_s": a.texts / med}
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
