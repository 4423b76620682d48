"""GPU parity: the `siglens` binary on a GPU against the same binary on the CPU and against
transformers' reference outputs (tests/fixtures/reference), on the fixture models.

For each fixture model it embeds the 17 fixture images and the reference prompts with
`siglens embed --json` on --device cpu, then on cuda in f32, bf16 and f16, and prints the
largest absolute difference of any embedding component and the smallest cosine.
Contract: cuda f32 within 1e-4 of the CPU (and of transformers, like the CPU tests);
bf16/f16 deviations are reported, not asserted.

With --base DIR (the benchmark model, tools/gpu/make_model.py: base architecture, head
size 64) it also compares cuda against cpu there, with no transformers reference: the fixture
models' heads are too small for the fused attention kernel (head size 64, 16-bit), so this
is where that kernel runs. 16-bit there must keep a cosine >= 0.995 to the CPU (a broken
kernel gives far less); the figure itself is reported.

Usage: python3 tools/gpu/parity.py SIGLENS_BINARY [--device cuda:0] [--base DIR]   (repo root)
Exit code 1 if cuda f32 misses 1e-4, or 16-bit on --base misses the cosine floor.
"""
import argparse
import json
import math
import os
import subprocess
import sys

MODELS = ["tiny48", "deep32"]
F32_TOL = 1e-4


F16_MIN_COS = 0.995


def embed(binary, model, images, texts, device, dtype):
    path = model if os.path.isdir(model) else f"tests/fixtures/models/{model}"
    cmd = [binary, "embed", "--json", "--model", path,
           "--device", device, "--compute-dtype", dtype, "--batch-size", "32"]
    for i in images:
        cmd += ["--image", f"tests/fixtures/images/{i}"]
    for t in texts:
        cmd += ["--text", t]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    j = json.loads(out)
    return [r["embedding"] for r in j["images"]], [r["embedding"] for r in j["texts"]]


def compare(a, b):
    max_diff, min_cos = 0.0, 1.0
    for x, y in zip(a, b):
        max_diff = max(max_diff, max(abs(p - q) for p, q in zip(x, y)))
        dot = sum(p * q for p, q in zip(x, y))
        min_cos = min(min_cos, dot / math.sqrt(sum(p * p for p in x) * sum(q * q for q in y)))
    return max_diff, min_cos


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("binary")
    ap.add_argument("--device", default="cuda:0")
    ap.add_argument("--base", help="benchmark model directory (head size 64)")
    a = ap.parse_args()
    ok = True
    rows = []
    for model in MODELS:
        ref = json.load(open(f"tests/fixtures/reference/{model}.json"))
        images, prompts = ref["images"], ref["prompts"]
        cpu_i, cpu_t = embed(a.binary, model, images, prompts, "cpu", "f32")
        for dtype in ["f32", "bf16", "f16"]:
            gi, gt = embed(a.binary, model, images, prompts, a.device, dtype)
            for what, g, c, r in [("image", gi, cpu_i, ref["image_embeds"]),
                                  ("text", gt, cpu_t, ref["text_embeds"])]:
                d_cpu, cos_cpu = compare(g, c)
                d_ref, cos_ref = compare(g, r)
                rows.append(dict(model=model, dtype=dtype, what=what, n=len(g),
                                 max_abs_vs_cpu=d_cpu, min_cos_vs_cpu=cos_cpu,
                                 max_abs_vs_transformers=d_ref, min_cos_vs_transformers=cos_ref))
                if dtype == "f32" and d_cpu > F32_TOL:
                    ok = False
        c_ref_i, _ = compare(cpu_i, ref["image_embeds"])
        c_ref_t, _ = compare(cpu_t, ref["text_embeds"])
        rows.append(dict(model=model, dtype="cpu f32", what="image+text", n=len(cpu_i) + len(cpu_t),
                         max_abs_vs_cpu=0.0, min_cos_vs_cpu=1.0,
                         max_abs_vs_transformers=max(c_ref_i, c_ref_t), min_cos_vs_transformers=float("nan")))
    if a.base:
        ref = json.load(open(f"tests/fixtures/reference/{MODELS[0]}.json"))
        images, prompts = ref["images"], ref["prompts"]
        cpu_i, cpu_t = embed(a.binary, a.base, images, prompts, "cpu", "f32")
        for dtype in ["f32", "bf16", "f16"]:
            gi, gt = embed(a.binary, a.base, images, prompts, a.device, dtype)
            for what, g, c in [("image", gi, cpu_i), ("text", gt, cpu_t)]:
                d_cpu, cos_cpu = compare(g, c)
                rows.append(dict(model="base", dtype=dtype, what=what, n=len(g),
                                 max_abs_vs_cpu=d_cpu, min_cos_vs_cpu=cos_cpu,
                                 max_abs_vs_transformers=float("nan"),
                                 min_cos_vs_transformers=float("nan")))
                if dtype == "f32" and d_cpu > F32_TOL:
                    ok = False
                if dtype != "f32" and cos_cpu < F16_MIN_COS:
                    ok = False
    print(f"{'model':7} {'dtype':8} {'what':10} {'n':>3} {'max|d| cpu':>11} {'min cos cpu':>11} {'max|d| hf':>11} {'min cos hf':>11}")
    for r in rows:
        print(f"{r['model']:7} {r['dtype']:8} {r['what']:10} {r['n']:3d} {r['max_abs_vs_cpu']:11.3e} "
              f"{r['min_cos_vs_cpu']:11.7f} {r['max_abs_vs_transformers']:11.3e} {r['min_cos_vs_transformers']:11.7f}")
    print(json.dumps(rows), file=open(os.environ.get("PARITY_JSON", "/dev/null"), "w"))
    print("cuda f32 within", F32_TOL, "of cpu (and 16-bit cos >=", F16_MIN_COS, "on --base):",
          "PASS" if ok else "FAIL")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
