"""What each preset costs on this machine: parameters, resident memory, load time, images/s, texts/s.

    python -m benchmarks.model_costs                      # every preset but giant-opt, ~10 min on 2 cores
    python -m benchmarks.model_costs --models pe-core-b,siglip2-so400m --images 8
    python -m benchmarks.model_costs --models siglip2-giant   # 7.5 GB of fp32 weights: a big machine

The Hub is not reachable here, so each model is its real architecture with random weights (cost does
not depend on the weights), built from the library's own config classes: transformers' SiglipConfig,
Siglip2Config and MetaClip2Config with the sizes of the Hub checkpoints' config.json, and open_clip's
built-in PE-Core configs. Each model runs in a fresh process: it is saved to a temporary folder,
loaded back the way the app loads it (`from_pretrained`, or open_clip with a weights file; timed),
then embeds a batch of random images at the model's input size and a batch of texts at the length the
app tokenizes them to (SigLIP-type: padded to 64 tokens; PE-Core: its 32-token context; MetaCLIP 2:
16 tokens, a short label), in fp32 (this CPU has no native bf16), after one warm-up call of each.
Resident memory is the process's RSS after the load and the two calls, less its RSS before the load.
Speeds are the models' forward passes alone: image decoding and preprocessing (the same for every
model, and overlapped with the forward in an index build or an evaluation) are not included. The
baseline is SigLIP 2 B/16-224, the registry's `siglip2`, measured in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.common import machine  # sets HF_HUB_OFFLINE first

BASE = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12}
LARGE = {"hidden_size": 1024, "intermediate_size": 4096, "num_hidden_layers": 24, "num_attention_heads": 16}
SO400M = {"hidden_size": 1152, "intermediate_size": 4304, "num_hidden_layers": 27, "num_attention_heads": 16}
GIANT = {"hidden_size": 1536, "intermediate_size": 6144, "num_hidden_layers": 40, "num_attention_heads": 16}
GEMMA_VOCAB = 256000
XLM_V_VOCAB = 901629  # MetaCLIP 2 worldwide's tokenizer (XLM-V)


def _siglip(text: dict, vision: dict, image: int, patch: int, projection: int | None = None) -> dict:
    text_config = {**text, "vocab_size": GEMMA_VOCAB, "max_position_embeddings": 64}
    if projection:  # giant-opt: a So400m-shaped text tower projected to the 1536-d image space
        text_config["projection_size"] = projection
    vision_config = {**vision, "image_size": image, "patch_size": patch}
    return {"family": "siglip", "config": {"text_config": text_config, "vision_config": vision_config},
            "image": image, "tokens": 64}  # fmt: skip


def _metaclip2(text: dict, vision: dict, projection: int) -> dict:
    text_config = {**text, "vocab_size": XLM_V_VOCAB, "hidden_act": "gelu", "eos_token_id": 2}
    vision_config = {**vision, "image_size": 224, "patch_size": 16, "hidden_act": "gelu"}
    config = {"text_config": text_config, "vision_config": vision_config, "projection_dim": projection}
    return {"family": "metaclip_2", "config": config, "image": 224, "tokens": 16}


def _small(width: int, heads: int) -> dict:
    return {"hidden_size": width, "intermediate_size": 4 * width, "num_hidden_layers": 12,
            "num_attention_heads": heads}  # fmt: skip


#: Registry key -> how to build its architecture (sizes from each checkpoint's config.json).
MODELS: dict[str, dict[str, Any]] = {
    "siglip2": _siglip(BASE, BASE, 224, 16),
    "siglip2-large": _siglip(LARGE, LARGE, 256, 16),
    "siglip2-so400m": _siglip(SO400M, SO400M, 384, 14),
    "siglip2-so400m-naflex": {
        "family": "siglip2",
        "image": None,
        "tokens": 64,
        "patches": 256,
        "config": {
            "text_config": {**SO400M, "vocab_size": GEMMA_VOCAB, "max_position_embeddings": 64},
            "vision_config": {**SO400M, "patch_size": 16, "num_patches": 256},
        },
    },
    "siglip2-giant": _siglip(SO400M, GIANT, 384, 16, projection=1536),
    "pe-core-b": {"family": "open_clip", "name": "PE-Core-B-16", "image": 224, "tokens": 32},
    "pe-core-l": {"family": "open_clip", "name": "PE-Core-L-14-336", "image": 336, "tokens": 32},
    "metaclip2-b16": _metaclip2(_small(512, 8), BASE, 512),
    "metaclip2-s16": _metaclip2(_small(384, 6), _small(384, 6), 384),
}
DEFAULT = [key for key in MODELS if key != "siglip2-giant"]


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _build(spec: dict[str, Any], device: str = "cpu") -> Any:
    import torch

    torch.manual_seed(0)
    if spec["family"] == "open_clip":
        import open_clip

        return open_clip.create_model(spec["name"], pretrained=None, device=device)
    import transformers

    names = {"siglip": "Siglip", "siglip2": "Siglip2", "metaclip_2": "MetaClip2"}[spec["family"]]
    config = getattr(transformers, f"{names}Config")(**spec["config"])
    return getattr(transformers, f"{names}Model")(config)


def _load(spec: dict[str, Any], folder: Path) -> Any:
    if spec["family"] == "open_clip":
        import open_clip

        return open_clip.create_model(spec["name"], pretrained=str(folder / "open_clip_model.safetensors"))
    from transformers import AutoModel

    return AutoModel.from_pretrained(folder)


def _save(spec: dict[str, Any], model: Any, folder: Path) -> None:
    if spec["family"] == "open_clip":
        from safetensors.torch import save_file

        state = {name: tensor.contiguous() for name, tensor in model.state_dict().items()}
        save_file(state, folder / "open_clip_model.safetensors")
    else:
        model.save_pretrained(folder)


def _inputs(spec: dict[str, Any], images: int, texts: int) -> tuple[dict[str, Any], Any]:
    import torch

    if spec["family"] == "siglip2":  # NaFlex: a square image as 16x16 patches of 16 px
        side = int(spec["patches"] ** 0.5)
        pixels = {
            "pixel_values": torch.randn(images, spec["patches"], 3 * 16 * 16),
            "pixel_attention_mask": torch.ones(images, spec["patches"], dtype=torch.long),
            "spatial_shapes": torch.tensor([[side, side]] * images),
        }
    else:
        pixels = {"pixel_values": torch.randn(images, 3, spec["image"], spec["image"])}
    ids = torch.randint(5, 1000, (texts, spec["tokens"]))
    ids[:, -1] = 2 if spec["family"] == "metaclip_2" else 1  # the EOS MetaCLIP 2 pools at
    return pixels, ids


def _embedders(spec: dict[str, Any], model: Any) -> tuple[Any, Any]:
    if spec["family"] == "open_clip":
        return (lambda pixels: model.encode_image(pixels["pixel_values"])), model.encode_text
    return (lambda pixels: model.get_image_features(**pixels)), (
        lambda ids: model.get_text_features(input_ids=ids)
    )


def measure_one(key: str, images: int, texts: int) -> dict[str, Any]:
    """Build, save, load (timed) and run model `key` in this process."""
    import torch

    spec = MODELS[key]
    with tempfile.TemporaryDirectory(prefix=f"cost-{key}-") as tmp:
        built = _build(spec)
        params = sum(p.numel() for p in built.parameters())
        _save(spec, built, Path(tmp))
        del built
        baseline = rss_mb()
        started = time.perf_counter()
        model = _load(spec, Path(tmp)).eval()
        load_seconds = time.perf_counter() - started
    pixels, ids = _inputs(spec, images, texts)
    embed_images, embed_texts = _embedders(spec, model)
    with torch.inference_mode():
        embed_images({name: value[:1] for name, value in pixels.items()})
        embed_texts(ids[:2])
        started = time.perf_counter()
        embed_images(pixels)
        image_seconds = time.perf_counter() - started
        started = time.perf_counter()
        embed_texts(ids)
        text_seconds = time.perf_counter() - started
    return {
        "key": key, "params_m": round(params / 1e6, 1), "memory_mb": round(rss_mb() - baseline),
        "load_s": round(load_seconds, 1), "images_per_s": round(images / image_seconds, 2),
        "texts_per_s": round(texts / text_seconds, 1), "threads": torch.get_num_threads(),
    }  # fmt: skip


def count_params(key: str) -> float:
    """Parameters in millions, counted on the meta device (nothing allocated)."""
    import torch

    with torch.device("meta"):
        model = _build(MODELS[key], device="meta")
    return round(sum(p.numel() for p in model.parameters()) / 1e6, 1)


def table(results: list[dict[str, Any]]) -> str:
    base = next((r for r in results if r["key"] == "siglip2" and "images_per_s" in r), None)
    rows = [
        "| model | parameters | resident memory | load | images/s | texts/s | images/s vs SigLIP 2 B/16 |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if "images_per_s" not in r:
            rows.append(f"| `{r['key']}` | {r['params_m']:,.0f} M | not run here | | | | |")
            continue
        ratio = f"{r['images_per_s'] / base['images_per_s']:.2f}x" if base else ""
        cells = [f"`{r['key']}`", f"{r['params_m']:,.0f} M", f"{r['memory_mb'] / 1024:.1f} GB"]
        cells += [f"{r['load_s']:.1f} s", f"{r['images_per_s']:.2f}", f"{r['texts_per_s']:.1f}", ratio]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--models", default=",".join(DEFAULT), help="Comma-separated keys (default: %(default)s)."
    )
    parser.add_argument("--images", type=int, default=4, help="Images per timed batch (default: 4).")
    parser.add_argument("--texts", type=int, default=16, help="Texts per timed batch (default: 16).")
    parser.add_argument(
        "--count-only", default="siglip2-giant", help="Keys whose parameters only are counted."
    )
    parser.add_argument("--one", help=argparse.SUPPRESS)  # run one model in this process
    parser.add_argument("--json", type=Path, help="Write the results as JSON here.")
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(measure_one(args.one, args.images, args.texts)))
        return 0
    keys = [key.strip() for key in args.models.split(",") if key.strip()]
    results = []
    for key in [*keys, *(k for k in args.count_only.split(",") if k and k not in keys)]:
        if key not in keys:
            results.append({"key": key, "params_m": count_params(key)})
            continue
        print(f"{key} ...", file=sys.stderr, flush=True)
        command = [sys.executable, "-m", "benchmarks.model_costs", "--one", key,
                   "--images", str(args.images), "--texts", str(args.texts)]  # fmt: skip
        done = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
            return 1
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"Measured on {machine()}, fp32, {results[0].get('threads', '?')} threads, random weights:\n")
    print(table(results))
    if args.json:
        args.json.write_text(json.dumps({"machine": machine(), "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
