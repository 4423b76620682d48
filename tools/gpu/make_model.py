"""The benchmark model: SigLIP 2 base architecture, random weights (torch seed 0), made with
../shared/peer-bench/make_random_siglip2.py's recipe (copied here so it travels to the GPU
machine), plus a tokenizer for the text benchmark.

Usage: python3 tools/gpu/make_model.py OUT_DIR
"""
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_random_siglip2 import BASE, build  # noqa: E402

out = sys.argv[1]
build("siglip2-base-patch16-224 (random, seed 0)", BASE, out)
# Token ids do not change speed; this tokenizer's 432 ids fit the 256000-row table.
shutil.copy("tests/fixtures/tokenizer/tokenizer.json", out)
