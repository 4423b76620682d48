"""Image-embedding fidelity of siglens and of onnxruntime's int8 models against PyTorch fp32,
on the same weights and the same images (issue 5: the int8 path's cosine beside ORT int8's).

PyTorch runs the notebook's path (the processor's output into `get_image_features`); the
ONNX files are `../shared/peer-bench/export_onnx.py`'s (the vision tower, dynamic int8);
siglens' embeddings come from `siglens embed --json` runs, one JSON file per siglens model.

Usage: /tmp/anchors/venv/bin/python tools/fidelity-vs-peer.py --model DIR --onnx-dir DIR \
         --siglens NAME=embed.json [--siglens ...] IMAGE...
Prints one JSON object on one line: per runtime, the min and mean cosine over the images.
"""
import argparse
import json
import os

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image
from transformers import AutoImageProcessor, SiglipModel


def unit(x):
    x = np.asarray(x, dtype=np.float64)
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def summary(ref, other):
    cos = np.sum(unit(ref) * unit(other), axis=-1)
    return {"min": round(float(cos.min()), 6), "mean": round(float(cos.mean()), 6)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--onnx-dir", required=True)
    ap.add_argument("--siglens", action="append", default=[], help="NAME=embed.json")
    ap.add_argument("images", nargs="+")
    args = ap.parse_args()
    torch.set_num_threads(2)

    processor = AutoImageProcessor.from_pretrained(args.model)
    model = SiglipModel.from_pretrained(args.model).eval()
    images = [Image.open(p).convert("RGB") for p in args.images]
    pixels = processor(images=images, return_tensors="pt")["pixel_values"]
    with torch.inference_mode():
        out = model.get_image_features(pixel_values=pixels)
        out = out.pooler_output if hasattr(out, "pooler_output") else out
    ref = out.numpy()

    result = {"images": len(images), "reference": "PyTorch fp32 (transformers), same weights"}
    for name in ("vision_int8_quint8.onnx", "vision_int8_qint8.onnx", "vision_fp32.onnx"):
        path = os.path.join(args.onnx_dir, name)
        if not os.path.exists(path):
            continue
        sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        y = np.concatenate(
            [sess.run(None, {"pixel_values": pixels[i : i + 1].numpy()})[0] for i in range(len(images))]
        )
        result["onnxruntime " + name] = summary(ref, y)
    for spec in args.siglens:
        name, path = spec.split("=", 1)
        with open(path) as f:
            rows = json.load(f)["images"]
        by_path = {r["image"]: r["embedding"] for r in rows if "embedding" in r}
        y = [by_path[p] for p in args.images]
        result["siglens " + name] = summary(ref, y)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
