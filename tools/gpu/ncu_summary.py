"""Per-kernel GPU time from an Nsight Compute CSV (`ncu --csv --metrics gpu__time_duration.sum
--log-file X.csv prog ...`): total ms per kernel name, largest first.

Usage: python3 tools/gpu/ncu_summary.py X.csv [TOP]
"""
import csv
import sys
from collections import defaultdict

UNIT = {"nsecond": 1e-6, "usecond": 1e-3, "msecond": 1.0, "second": 1e3}
path, top = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 25
lines = [l for l in open(path, errors="replace") if l.startswith('"')]
tot, cnt = defaultdict(float), defaultdict(int)
for r in csv.DictReader(lines):
    if r.get("Metric Name") != "gpu__time_duration.sum":
        continue
    name = r["Kernel Name"].split("(")[0][:70]
    tot[name] += float(r["Metric Value"].replace(",", "")) * UNIT.get(r["Metric Unit"], 1e-6)
    cnt[name] += 1
all_ms = sum(tot.values())
print(f"{sum(cnt.values())} kernels, {all_ms:.2f} ms GPU time")
for n, ms in sorted(tot.items(), key=lambda kv: -kv[1])[:top]:
    print(f"{ms:9.3f} ms {100 * ms / all_ms:5.1f}% {cnt[n]:6d}x  {n}")
