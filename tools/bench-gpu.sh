#!/usr/bin/env bash
# GPU benchmark: siglens (CUDA build) against PyTorch eager on the same GPU, same weights.
# Run from the repo root on the GPU machine (python3 with torch + transformers there):
#
#   bash tools/bench-gpu.sh path/to/siglens [OUT_DIR]
#
# 1. makes the random-weight SigLIP 2 base model (seed 0) with torch, as safetensors;
# 2. for fp32 and bf16 and image batch sizes 1, 32, 256 (224 px): `siglens bench` and
#    tools/gpu/bench_torch_gpu.py, one after the other, each median of 5 runs after 2
#    warm-ups; texts (64 tokens) in batches of 256 with the batch-256 run;
# 3. prints a table; every raw JSON line is in OUT_DIR/results.jsonl.
set -euo pipefail
bin=$(realpath "$1")
out=${2:-/tmp/bench-gpu}
here=$(cd "$(dirname "$0")" && pwd)
model=${SIGLENS_BENCH_MODEL:-/tmp/siglip2-base-random}
mkdir -p "$out"
: >"$out/results.jsonl"

[ -f "$model/model.safetensors" ] || python3 "$here/gpu/make_model.py" "$model" >"$out/make_model.log" 2>&1

for dtype in fp32 bf16; do
  sdt=$([ $dtype = fp32 ] && echo f32 || echo bf16)
  for b in 1 32 256; do
    case $b in 1) n=64 ;; 32) n=256 ;; *) n=1024 ;; esac
    t=$([ $b = 256 ] && echo 1024 || echo 0)
    echo "== $dtype batch $b: $n images, $t texts" >&2
    s=$("$bin" bench --model "$model" --device cuda --compute-dtype $sdt --batch-size $b \
      --images $n --texts $t --warmup 2 --runs 5)
    echo "{\"runtime\":\"siglens\",\"dtype\":\"$dtype\",\"result\":$s}" >>"$out/results.jsonl"
    p=$(python3 "$here/gpu/bench_torch_gpu.py" --model "$model" --dtype $dtype --batch $b \
      --images $n --texts $t --warmup 2 --runs 5 2>>"$out/torch.log")
    echo "{\"runtime\":\"pytorch\",\"dtype\":\"$dtype\",\"result\":$p}" >>"$out/results.jsonl"
  done
done

python3 - "$out/results.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{'runtime':8} {'dtype':5} {'batch':>5} {'images/s':>10} {'texts/s':>10}")
for r in rows:
    x = r["result"]
    img = x.get("images", {}).get("per_s")
    txt = x.get("texts", {}).get("per_s")
    f = lambda v: f"{v:10.1f}" if v else f"{'-':>10}"
    print(f"{r['runtime']:8} {r['dtype']:5} {x['batch_size']:5d} {f(img)} {f(txt)}")
PY
