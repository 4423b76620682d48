#!/usr/bin/env python3
"""A stand-in for Gemma's tokenizer.json in size (no hub is reachable here): the tiny48
fixture's BPE grown by random merges to 255990 tokens (+ its added tokens <= 256000, the
base vocabulary). Not a real tokenizer: it only makes the start-up cost of building a
256k-token tokenizer measurable (BENCHMARKS.md, "The tokenizer: what the benchmark model
hides").

Usage: python3 tools/make-gemma-sized-tokenizer.py OUT/tokenizer.json
Then put it beside the random base model's other files and `siglens quantize` that folder.
"""
import json
import random
import sys

random.seed(0)
tok = json.load(open('tests/fixtures/models/tiny48/tokenizer.json'))
m = tok['model']
vocab = dict(m['vocab'])
base = [chr(c) for c in range(0x21, 0x7f)] + [chr(c) for c in range(0xa1, 0x250)] + ['\u2581']
for b in base:
    if b not in vocab:
        vocab[b] = len(vocab)
short = [t for t in vocab if len(t) <= 6]
merges = []
seen = set(vocab)
while len(vocab) < 255990:
    a = random.choice(short)
    b = random.choice(short)
    t = a + b
    if t in seen or ' ' in t:
        continue
    seen.add(t)
    vocab[t] = len(vocab)
    merges.append([a, b])
    if len(t) <= 6:
        short.append(t)
m['vocab'] = vocab
m['merges'] = m.get('merges', []) + merges
json.dump(tok, open(sys.argv[1], 'w'), ensure_ascii=False)
print(f'{len(vocab)} tokens, {len(m["merges"])} merges -> {sys.argv[1]}')
