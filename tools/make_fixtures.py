"""Generate siglens's parity fixtures with Hugging Face transformers.

No model hub is reachable, so this builds small randomly initialised SiglipModel
checkpoints (the SigLIP 2 fixed-resolution architecture, model_type "siglip") and a
Gemma-style tokenizer, then records what transformers does with them along the
notebook's path: processor output passed whole to model(**inputs), and the zero-shot
pipeline. The Rust tests compare against these files; CI needs no Python.

    python3 -m venv /tmp/siglens-py && /tmp/siglens-py/bin/pip install -r tools/requirements-fixtures.txt
    /tmp/siglens-py/bin/python tools/make_fixtures.py

Outputs under tests/fixtures/: tokenizer/, models/<name>/ (HF directory),
images/ (photos from ../shared/testdata plus synthetic edge cases),
reference/<name>.json (+ .f32 little-endian arrays).
"""
import io
import json
import os
import shutil
import struct
import sys

import numpy as np
import torch
import transformers
from PIL import Image
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from transformers import (AutoImageProcessor, AutoModel, AutoProcessor, AutoTokenizer, GemmaTokenizerFast,
                          SiglipConfig, SiglipImageProcessor, SiglipImageProcessorPil, SiglipModel, SiglipProcessor,
                          pipeline)
from transformers.image_utils import load_image

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
FIX = os.path.join(ROOT, "tests", "fixtures")
SHARED_IMAGES = os.path.join(ROOT, "..", "shared", "testdata", "images")

LABELS = ["cat", "a cup of coffee", "an astronaut", "a rocket launch", "a man with a camera",
          "a woman in uniform", "Dog", "STOP sign"]
TEMPLATE = "This is a photo of {}."
RAW_TEXTS = ["", "a", "A photo of a CAT", "café ☕ 日本語 naïve", "emoji 🚀🐈 test", "שלום עולם",
             "  leading and trailing spaces  ", "tab\tand\nnewline",
             " ".join(["word"] * 80),  # longer than 64 tokens: truncation keeps the tokenizer's eos
             "antidisestablishmentarianism supercalifragilistic"]

# Two shapes: one with an image size whose downscale factors are not integers and a
# bilinear filter (as SigLIP 2), one deeper (6 layers) with bicubic, where a wrong
# attention mask or pooling position compounds.
# tiny48's tokenizer config is what transformers' SigLIP 2 converter wrote for the Hub
# checkpoints (right padding, model_input_names ["input_ids"]: no attention mask reaches
# the model); deep32's asks for the mask, so both of transformers' paths are recorded.
MODELS = {
    "tiny48": dict(image_size=48, patch_size=8, hidden=64, heads=4, layers=2, inter=128, resample=2,
                   input_names=["input_ids"]),
    "deep32": dict(image_size=32, patch_size=4, hidden=32, heads=2, layers=6, inter=64, resample=3,
                   input_names=["input_ids", "attention_mask"]),
}


def build_tokenizer(out_dir):
    """A Gemma-style tokenizer: BPE with byte fallback, '▁' for spaces, <pad>=0 <eos>=1 <bos>=2."""
    specials = ["<pad>", "<eos>", "<bos>", "<unk>"]
    byte_tokens = [f"<0x{b:02X}>" for b in range(256)]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    tok.normalizer = normalizers.Replace(" ", "▁")
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("▁"), behavior="merged_with_next")
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse()])
    corpus = [TEMPLATE.format(l).lower() for l in LABELS] * 5 + [
        "this is a photo of a dog", "the quick brown fox jumps over the lazy dog",
        "a photo of a cat sitting on a sofa", "an astronaut in a space suit", "coffee with milk foam",
        "grace hopper in navy uniform", "a camera man with a tripod", "a rocket lifting off",
    ] * 5
    trainer = trainers.BpeTrainer(vocab_size=700, special_tokens=specials + byte_tokens, show_progress=False,
                                  initial_alphabet=list("abcdefghijklmnopqrstuvwxyz▁.,"))
    tok.train_from_iterator(corpus, trainer)
    fast = GemmaTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="<eos>", bos_token="<bos>",
                              unk_token="<unk>", add_bos_token=False, add_eos_token=True, padding_side="right")
    fast.save_pretrained(out_dir)
    return fast


def synthetic_images(out_dir):
    """Edge cases the engine must decode like PIL: modes, orientation, odd shapes, formats."""
    rng = np.random.default_rng(0)
    noise = lambda h, w, c: rng.integers(0, 256, (h, w, c), dtype=np.uint8)
    grad = np.linspace(0, 255, 64, dtype=np.uint8)
    made = {}

    def save(name, img, **kw):
        p = os.path.join(out_dir, name)
        img.save(p, **kw)
        made[name] = p

    # Smooth content for the lossy formats: JPEG decoders legitimately differ by a level or
    # two on noise; these files test orientation and colour modes, not IDCT rounding.
    yy = np.linspace(0, 255, 40, dtype=np.uint8)[:, None]
    base = Image.fromarray(np.dstack([np.tile(grad, (40, 1)), np.tile(grad[::-1], (40, 1)),
                                      np.broadcast_to(yy, (40, 64)).astype(np.uint8)]))
    save("synthetic_gray.png", Image.fromarray(np.tile(grad, (50, 1))).convert("L"))
    rgba = np.dstack([noise(37, 53, 3), np.where(rng.random((37, 53)) > 0.5, 255, 0).astype(np.uint8)])
    save("synthetic_alpha.png", Image.fromarray(rgba, "RGBA"))
    save("synthetic_tall_1x4.png", Image.fromarray(noise(160, 40, 3)))
    save("synthetic_1x1.png", Image.fromarray(np.array([[[200, 30, 90]]], dtype=np.uint8)))
    save("synthetic_palette.png", base.convert("P", palette=Image.Palette.ADAPTIVE, colors=16))
    save("synthetic_gray_alpha.png", Image.fromarray(np.dstack([noise(30, 30, 1)[..., 0], noise(30, 30, 1)[..., 0]]), "LA"))
    # EXIF orientation 6 (rotate 90 CW to display): the stored pixels are landscape.
    exif = Image.Exif()
    exif[0x0112] = 6
    # 4:4:4 so the file tests orientation, not chroma-upsampling rounding (see the parity test).
    save("synthetic_exif_rotated.jpg", base, quality=95, subsampling=0, exif=exif.tobytes())
    save("synthetic_cmyk.jpg", base.convert("CMYK"), quality=95)
    save("synthetic.webp", base, lossless=True)
    save("synthetic.gif", base.convert("P"))
    save("synthetic.bmp", base)
    return made


def f32_file(path, arr):
    np.asarray(arr, dtype="<f4").tofile(path)


def build_model(name, spec, vocab, tok_dir):
    torch.manual_seed(0)
    text = dict(vocab_size=vocab, hidden_size=spec["hidden"], intermediate_size=spec["inter"],
                num_hidden_layers=spec["layers"], num_attention_heads=spec["heads"], max_position_embeddings=64,
                hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6, pad_token_id=0, eos_token_id=1, bos_token_id=2)
    vision = dict(hidden_size=spec["hidden"], intermediate_size=spec["inter"], num_hidden_layers=spec["layers"],
                  num_attention_heads=spec["heads"], num_channels=3, image_size=spec["image_size"],
                  patch_size=spec["patch_size"], hidden_act="gelu_pytorch_tanh", layer_norm_eps=1e-6)
    model = SiglipModel(SiglipConfig(text_config=text, vision_config=vision)).eval()
    # Random init gives near-identical embeddings; widen every weight so inputs matter.
    with torch.no_grad():
        for n, p in model.named_parameters():
            if p.dim() >= 2 and "embedding" not in n:
                p.mul_(1.5)
    out = os.path.join(FIX, "models", name)
    os.makedirs(out, exist_ok=True)
    image_processor = SiglipImageProcessor(
        do_resize=True, size={"height": spec["image_size"], "width": spec["image_size"]}, resample=spec["resample"],
        do_rescale=True, rescale_factor=1 / 255, do_normalize=True, image_mean=[0.5] * 3, image_std=[0.5] * 3)
    tokenizer = GemmaTokenizerFast.from_pretrained(tok_dir, padding_side="right", model_input_names=spec["input_names"])
    SiglipProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(out)
    image_processor.save_pretrained(out)  # preprocessor_config.json, as on the Hub
    return model, out


def main():
    print("torch", torch.__version__, "transformers", transformers.__version__)
    for sub in ["tokenizer", "models", "images", "reference"]:
        shutil.rmtree(os.path.join(FIX, sub), ignore_errors=True)
        os.makedirs(os.path.join(FIX, sub))
    tok = build_tokenizer(os.path.join(FIX, "tokenizer"))
    vocab = len(tok)
    images = {}
    for f in sorted(os.listdir(SHARED_IMAGES)):
        if f.endswith((".png", ".jpg")):
            shutil.copy(os.path.join(SHARED_IMAGES, f), os.path.join(FIX, "images", f))
            images[f] = os.path.join(FIX, "images", f)
    shutil.copy(os.path.join(SHARED_IMAGES, "SOURCES.md"), os.path.join(FIX, "images", "SOURCES.md"))
    images.update(synthetic_images(os.path.join(FIX, "images")))
    names = sorted(images)
    prompts = [TEMPLATE.format(l).lower() for l in LABELS]

    for name, spec in MODELS.items():
        model, mdir = build_model(name, spec, vocab, os.path.join(FIX, "tokenizer"))
        # Give scores a useful spread: scale so cosines map onto roughly [-4, 4] logits.
        processor = AutoProcessor.from_pretrained(mdir)
        pil = [load_image(images[n]) for n in names]  # exif_transpose + convert("RGB")
        inputs = processor(text=prompts, images=pil, padding="max_length", max_length=64, return_tensors="pt")
        with torch.no_grad():
            out = model(**inputs)
            cos = out.logits_per_image / model.logit_scale.exp() - model.logit_bias
            spread = float(cos.std()) or 1.0
            model.logit_scale.fill_(float(np.log(2.0 / spread)))
            model.logit_bias.fill_(-float(cos.mean()) * 2.0 / spread)
            out = model(**inputs)
        model.save_pretrained(mdir, safe_serialization=True)

        # The notebook's path: reload everything from the directory. The primary reference
        # uses the processor's PIL backend (what transformers uses without torchvision, and
        # what siglens reproduces bit for bit); the torchvision backend, transformers'
        # default when torchvision is installed, is recorded beside it.
        model = AutoModel.from_pretrained(mdir).eval()
        processor = SiglipProcessor(image_processor=SiglipImageProcessorPil.from_pretrained(mdir),
                                    tokenizer=AutoTokenizer.from_pretrained(mdir))
        tv_processor = AutoImageProcessor.from_pretrained(mdir)
        inputs = processor(text=prompts, images=pil, padding="max_length", max_length=64, return_tensors="pt")
        input_keys = sorted(inputs.keys())
        with torch.no_grad():
            out = model(**inputs)
            raw = processor(text=RAW_TEXTS, padding="max_length", max_length=64, truncation=True,
                            return_attention_mask=True, return_tensors="pt")
            raw_masked = model.get_text_features(**raw)
            raw_unmasked = model.get_text_features(input_ids=raw["input_ids"])
            cased = processor(text=[TEMPLATE.format(l) for l in LABELS], padding="max_length", max_length=64,
                              return_tensors="pt")
        norm = lambda t: torch.nn.functional.normalize(t.pooler_output if hasattr(t, "pooler_output") else t, dim=-1)
        zsc = pipeline("zero-shot-image-classification", model=model, tokenizer=processor.tokenizer,
                       image_processor=processor.image_processor)
        zs = [zsc(img, candidate_labels=LABELS[:4], hypothesis_template=TEMPLATE.lower()) for img in pil[:3]]

        px = inputs["pixel_values"].numpy()
        f32_file(os.path.join(FIX, "reference", f"{name}.pixels.f32"), px)
        tv = tv_processor(images=pil, return_tensors="pt")["pixel_values"]
        with torch.no_grad():
            tv_embeds = model.get_image_features(pixel_values=tv)
        f32_file(os.path.join(FIX, "reference", f"{name}.pixels_torchvision.f32"), tv.numpy())
        ref = {
            "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
            "image_processor": type(processor.image_processor).__name__,
            "tokenizer_class": type(processor.tokenizer).__name__,
            "processor_output_keys": input_keys,
            "images": names,
            "image_sizes": {n: list(Image.open(images[n]).size) for n in names},
            "pixel_shape": list(px.shape),
            "labels": LABELS,
            "template": TEMPLATE,
            "prompts": prompts,
            "prompt_input_ids": inputs["input_ids"].tolist(),
            "prompt_attention_mask": inputs["attention_mask"].tolist() if "attention_mask" in inputs else None,
            "text_model_got_attention_mask": "attention_mask" in inputs,
            "image_embeds": out.image_embeds.tolist(),
            "torchvision_image_processor": type(tv_processor).__name__,
            "torchvision_image_embeds": norm(tv_embeds).tolist(),
            "text_embeds": out.text_embeds.tolist(),
            "logits_per_image": out.logits_per_image.tolist(),
            "probs": torch.sigmoid(out.logits_per_image).tolist(),
            "logit_scale": float(model.logit_scale), "logit_bias": float(model.logit_bias),
            "raw_texts": RAW_TEXTS,
            "raw_input_ids": raw["input_ids"].tolist(),
            "raw_attention_mask": raw["attention_mask"].tolist(),
            "raw_text_embeds_masked": norm(raw_masked).tolist(),
            "raw_text_embeds_unmasked": norm(raw_unmasked).tolist(),
            "cased_prompts": [TEMPLATE.format(l) for l in LABELS],
            "cased_input_ids": cased["input_ids"].tolist(),
            "pipeline": {"images": names[:3], "labels": LABELS[:4], "hypothesis_template": TEMPLATE.lower(),
                         "results": zs},
        }
        with open(os.path.join(FIX, "reference", f"{name}.json"), "w") as f:
            json.dump(ref, f)
        print(name, "keys", input_keys, "processor", ref["image_processor"], "tokenizer", ref["tokenizer_class"],
              "probs range", float(torch.sigmoid(out.logits_per_image).min()), float(torch.sigmoid(out.logits_per_image).max()))


if __name__ == "__main__":
    main()
