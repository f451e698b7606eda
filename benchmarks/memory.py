"""Memory: peak RSS of the app process with every tab's models loaded, in fp32 and in bf16.

    python -m benchmarks.memory             # builds ~10 GB of real-size checkpoints once, then ~3 min

The Hub is not reachable here, so every model slot gets a checkpoint of its real architecture and
size with random weights (memory does not depend on the weights), made from the tiny test
checkpoint of the same family (its tokenizer and processor; the model config scaled to the real one):
SigLIP B/16-224, SigLIP 2 B/16-224 and NaFlex (256k vocabulary), SigLIP multilingual B/16-256 (250k
vocabulary), CLIP B/16, NLLB-CLIP base (ViT-B/32 + the NLLB-200-600M encoder, as open_clip builds it)
and multilingual CLIP (CLIP B/32 + multilingual DistilBERT). Each precision runs in a fresh process that
imports the app (gradio included) and loads every model through `core.encoders.get_encoder`, as the
app does; it uses each model once (one image, one text) and reports the resident memory after each, split into
the process's own (anonymous) memory and mapped files, and the peak (VmHWM). The baseline is fp32 in
the same run; bf16 is what `precision=auto` loads for bulk uses (index builds, evaluations) on GPUs
and on CPUs with native bf16. A third process loads every model as the app's tabs do by default
(`precision=auto`, interactive: fp32) and must match the fp32 column.
transformers memory-maps fp32 safetensors and keeps fp32 weights in the mapping (file pages, paged in
as used: rows of a 256k-token embedding table that no text uses stay on disk); a bf16 model is a
converted copy in anonymous memory. VmHWM counts the mapped file pages too (clean page cache the
kernel can drop), so the peak overstates what a load needs of the machine's own memory.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.common import CACHE, machine  # sets HF_HUB_OFFLINE first

ROOT = CACHE / "real-size-v1"
#: Registry keys, in the order the app's tabs use them.
KEYS = ["siglip", "siglip2", "siglip2-naflex", "siglip-multilingual", "clip", "nllb-clip", "mclip"]

TOWER = {"hidden_size": 768, "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12}
CLIP_TEXT = {"hidden_size": 512, "intermediate_size": 2048, "num_hidden_layers": 12, "num_attention_heads": 8}


def memory_kb(pid: int | str = "self") -> dict[str, int]:
    """VmRSS, VmHWM (peak RSS), RssAnon (the process's own memory) and RssFile (mapped files, such as
    memory-mapped safetensors weights: page cache the kernel can drop and read again)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:", "RssAnon:", "RssFile:")):
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0])
    return fields


# --------------------------------------------------------------------------------------------------
# Real-size checkpoints from the tiny ones


def build_checkpoints() -> dict[str, str]:
    """{slot: value for the app} of real-size random checkpoints, built once under ROOT."""
    from core.testing.tiny_models import build_tiny_models

    tiny = build_tiny_models(CACHE / "tiny")
    slots = {
        "siglip": lambda out: _transformers(tiny["siglip"], out, 32000, TOWER, 224),
        "siglip2": lambda out: _transformers(tiny["siglip2"], out, 256000, TOWER, 224),
        "siglip2-naflex": lambda out: _transformers(tiny["siglip2-naflex"], out, 256000, TOWER, None),
        "siglip-multilingual": lambda out: _transformers(
            tiny["siglip-multilingual"], out, 250000, TOWER, 256
        ),
        "clip": lambda out: _transformers(tiny["clip"], out, 49408, CLIP_TEXT, 224, patch=16),
        "nllb-clip": lambda out: _nllb_clip(tiny["nllb-clip"].removeprefix("local-dir:"), out),
        "mclip-image": lambda out: _mclip_image(tiny["mclip-image"], out),
        "mclip-text": lambda out: _mclip_text(tiny["mclip-text"], out),
    }
    values = {}
    for slot, build in slots.items():
        folder = ROOT / slot
        if not (folder / ".complete").exists():
            print(f"building real-size {slot} ...", flush=True)
            shutil.rmtree(folder, ignore_errors=True)
            shutil.copytree(tiny[slot].removeprefix("local-dir:"), folder)
            build(folder)
            (folder / ".complete").touch()
        values[slot] = f"local-dir:{folder}" if slot == "nllb-clip" else str(folder)
    return values


def _transformers(
    tiny: str, out: Path, vocab: int, text: dict[str, int], image_size: int | None, patch: int = 16
) -> None:
    import torch
    from transformers import AutoConfig, AutoModel, AutoProcessor

    config = AutoConfig.from_pretrained(tiny)
    for name, value in {**text, "vocab_size": vocab}.items():
        setattr(config.text_config, name, value)
    if hasattr(config.text_config, "projection_size"):
        config.text_config.projection_size = TOWER["hidden_size"]
    for name, value in TOWER.items():
        setattr(config.vision_config, name, value)
    config.vision_config.patch_size = patch
    if image_size:
        config.vision_config.image_size = image_size
    if hasattr(config, "projection_dim"):
        config.projection_dim = 512
    torch.manual_seed(0)
    _remove_weights(out)
    AutoModel.from_config(config).save_pretrained(out)
    processor = AutoProcessor.from_pretrained(tiny)
    image_processor = processor.image_processor
    if image_size and getattr(image_processor, "crop_size", None):
        image_processor.size = {"shortest_edge": image_size}
        image_processor.crop_size = {"height": image_size, "width": image_size}
    elif image_size:
        image_processor.size = {"height": image_size, "width": image_size}
    processor.save_pretrained(out)


def _nllb_clip(tiny: str, out: Path) -> None:
    import open_clip
    import torch
    from safetensors.torch import save_file
    from transformers import M2M100Config

    m2m = M2M100Config.from_pretrained(Path(tiny) / "m2m100")
    for name, value in {  # facebook/nllb-200-distilled-600M
        "vocab_size": 256206, "d_model": 1024, "encoder_layers": 12, "decoder_layers": 12,
        "encoder_attention_heads": 16, "decoder_attention_heads": 16, "encoder_ffn_dim": 4096,
        "decoder_ffn_dim": 4096, "max_position_embeddings": 1024,
    }.items():  # fmt: skip
        setattr(m2m, name, value)
    m2m.save_pretrained(out / "m2m100")
    config = json.loads((out / "open_clip_config.json").read_text())
    model_cfg = config["model_cfg"]
    model_cfg["embed_dim"] = 512
    model_cfg["vision_cfg"] = {"image_size": 224, "layers": 12, "width": 768, "patch_size": 32}
    model_cfg["text_cfg"]["hf_model_name"] = str(out / "m2m100")
    model_cfg["text_cfg"]["hf_tokenizer_name"] = str(out)
    (out / "open_clip_config.json").write_text(json.dumps(config))
    build_cfg = json.loads(json.dumps(model_cfg))
    build_cfg["text_cfg"]["hf_model_pretrained"] = False
    torch.manual_seed(0)
    model = open_clip.model.CustomTextCLIP(**build_cfg).eval()
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, out / "open_clip_model.safetensors")


def _mclip_image(tiny: str, out: Path) -> None:
    _transformers(str(Path(tiny) / "0_CLIPModel"), out / "0_CLIPModel", 49408, CLIP_TEXT, 224, patch=32)


def _mclip_text(tiny: str, out: Path) -> None:
    import torch
    from safetensors.torch import save_file
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(tiny)  # distilbert-base-multilingual-cased
    for name, value in {
        "vocab_size": 119547,
        "dim": 768,
        "hidden_dim": 3072,
        "n_layers": 6,
        "n_heads": 12,
    }.items():
        setattr(config, name, value)
    config.max_position_embeddings = 512
    torch.manual_seed(0)
    _remove_weights(out)
    AutoModel.from_config(config).save_pretrained(out)
    (out / "1_Pooling" / "config.json").write_text(
        json.dumps({"word_embedding_dimension": 768, "pooling_mode_mean_tokens": True})
    )
    dense = json.loads((out / "2_Dense" / "config.json").read_text())
    dense.update({"in_features": 768, "out_features": 512})
    (out / "2_Dense" / "config.json").write_text(json.dumps(dense))
    save_file({"linear.weight": torch.randn(512, 768) / 768**0.5}, out / "2_Dense" / "model.safetensors")


def _remove_weights(folder: Path) -> None:
    for path in folder.glob("*.safetensors"):
        path.unlink()


# --------------------------------------------------------------------------------------------------
# One process per precision


def child(precision: str, values: dict[str, str]) -> dict[str, Any]:
    """Import the app, load every model, report memory (runs in a fresh process)."""
    from PIL import Image

    import apps  # noqa: F401 - the app's own imports (gradio) are part of its footprint
    from core.config import Settings
    from core.encoders import get_encoder

    settings = Settings.from_env().with_(precision=precision, model_overrides=values, wikiart_size=0)
    steps = [("app imported", memory_kb(), 0)]
    image = Image.new("RGB", (640, 480), (120, 80, 40))
    for key in KEYS:
        encoder = get_encoder(key, settings)
        encoder.embed_images([image])  # used once, as a tab would: every weight page is touched
        encoder.embed_texts(["a cat"])
        modules = [encoder.model] if hasattr(encoder, "model") else [encoder.image_model, encoder.text_model]
        parameters = sum(p.numel() for module in modules for p in module.parameters())
        steps.append((key, memory_kb(), parameters))
    return {"steps": steps, "end": memory_kb()}


def _mib(memory: dict[str, int], field: str) -> str:
    return f"{memory[field] / 1024:.0f}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, json.loads(os.environ["BENCH_MODEL_VALUES"]))))
        return 0

    print(machine())
    values = build_checkpoints()
    results = {}
    for precision in ("fp32", "bf16", "auto"):
        env = {**os.environ, "BENCH_MODEL_VALUES": json.dumps(values), "SIGLIP_PROJECTS_WIKIART_SIZE": "0"}
        output = subprocess.run(
            [sys.executable, "-m", "benchmarks.memory", "--child", precision],
            env=env, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        results[precision] = json.loads(output.strip().splitlines()[-1])

    fp32, bf16 = results["fp32"], results["bf16"]
    print("\nMiB after loading each model and embedding one image and one text with it")
    print(
        f"{'model':<20} {'params M':>8} | {'fp32 RSS':>8} {'anon':>6} {'file':>6} | "
        f"{'bf16 RSS':>8} {'anon':>6} {'file':>6} | {'bf16/fp32 RSS':>13}"
    )
    for (name, m32, params), (_, m16, _) in zip(fp32["steps"], bf16["steps"], strict=True):
        print(
            f"{name:<20} {params / 1e6:>8.0f} | {_mib(m32, 'VmRSS'):>8} {_mib(m32, 'RssAnon'):>6} "
            f"{_mib(m32, 'RssFile'):>6} | {_mib(m16, 'VmRSS'):>8} {_mib(m16, 'RssAnon'):>6} "
            f"{_mib(m16, 'RssFile'):>6} | {m16['VmRSS'] / m32['VmRSS']:>13.2f}"
        )
    total = sum(step[2] for step in fp32["steps"])
    peak32, peak16 = fp32["end"]["VmHWM"], bf16["end"]["VmHWM"]
    print(
        f"{'peak RSS (VmHWM)':<20} {total / 1e6:>8.0f} | {peak32 / 1024:>8.0f} {'':>13} | "
        f"{peak16 / 1024:>8.0f} {'':>13} | {peak16 / peak32:>13.2f}"
    )
    auto = results["auto"]["end"]
    print(
        f"precision=auto, as the app's tabs load every model (interactive uses): "
        f"{auto['VmRSS'] / 1024:.0f} MiB resident, peak {auto['VmHWM'] / 1024:.0f} MiB "
        "(the fp32 column); bulk uses load the bf16 one"
    )
    print("(multilingual CLIP stays fp32 in both: sentence-transformers feeds its CLIP module fp32 pixels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
