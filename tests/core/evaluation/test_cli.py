"""`python app.py eval zeroshot|retrieval`: results, files written, and one-line errors with exit code 2."""

from __future__ import annotations

import json

import pytest
from PIL import Image

import app as cli
from tests.core.evaluation.conftest import write_class_folder


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_zeroshot_prints_a_table_with_the_best_model_and_writes_files(
    class_folder, tiny_models, tmp_path, capsys
):
    code, out, err = run(
        capsys, "eval", "zeroshot", "--folder", str(class_folder), "--models", "siglip,clip,nllb-clip",
        "--json", str(tmp_path / "r.json"), "--csv", str(tmp_path / "r.csv"),
        "--plots", str(tmp_path / "plots"),
    )  # fmt: skip
    assert code == 0, err
    result = json.loads((tmp_path / "r.json").read_text())
    best = result["best"]
    names = {"siglip": "SigLIP", "clip": "CLIP", "nllb-clip": "NLLB-CLIP"}
    table = [line for line in out.splitlines() if line[2:].split("  ")[0] in names.values()]
    assert len(table) == 3
    assert [line for line in table if line.startswith("*")] == [
        line for line in table if f" {names[best]} " in line
    ]
    assert f"{result['models'][best]['top1']:.1%}" in next(line for line in table if line.startswith("*"))
    assert "none of these" in out and "—" in out  # softmax models cannot abstain
    assert (tmp_path / "r.csv").read_text().startswith("model,name,top1")
    assert {path.name for path in (tmp_path / "plots").iterdir()} >= {"accuracy.png", "confusion_clip.png"}
    assert "NLLB-CLIP" in err  # one progress bar per model
    # The image runtime each model ran with, and why (the tests pin precision fp32: no trial).
    assert "SigLIP: images embedded with torch-fp32: precision fp32 was asked for." in out
    assert result["details"]["clip"]["image_runtime"]["runtime"] == "torch-fp32"


def test_retrieval_prints_recall_and_writes_json(caption_folder, tiny_models, tmp_path, capsys):
    code, out, _ = run(
        capsys, "eval", "retrieval", "--folder", str(caption_folder), "--models", "siglip2",
        "--json", str(tmp_path / "r.json"), "--plots", str(tmp_path / "plots"),
    )  # fmt: skip
    assert code == 0 and "i2t R@1" in out and "8 images, 16 captions" in out
    assert json.loads((tmp_path / "r.json").read_text())["task"] == "retrieval"
    with Image.open(tmp_path / "plots" / "recall_at_k.png") as image:
        assert image.format == "PNG"


def _empty(root):
    return root


def _one_class(root):
    return write_class_folder(root, classes=("cat",))


def _two_classes(root):
    return write_class_folder(root, classes=("cat", "dog"), per_class=1)


def _unreadable_class(root):
    write_class_folder(root, classes=("cat", "dog"))
    (root / "bird").mkdir()
    (root / "bird" / "a.jpg").write_bytes(b"not an image")
    return root


@pytest.mark.parametrize(
    ("make", "extra", "message"),
    [
        (_empty, [], "holds no class folders"),
        (_one_class, [], "only 1 class ('cat')"),
        (_unreadable_class, [], "No image of the class 'bird' could be read"),
        (_two_classes, ["--models", "siglip,dinov2"], "Unknown model 'dinov2'"),
        (_two_classes, ["--template", "a photo"], "has no {} where the label goes"),
        (_two_classes, ["--templates", "imagenet-21k"], "is not a prompt ensemble"),
        (_two_classes, ["--split", "test"], "--split only apply to --dataset"),
        (_unreadable_class, ["--classnames", "imagenet1k"], "has 1,000 class names; the data has 3 classes"),
        (_two_classes, ["--image-runtime", "tpu"], "--image-runtime"),
    ],
    ids=["empty", "one-class", "unreadable-class", "unknown-model", "bad-template", "bad-ensemble",
         "split-with-folder", "classnames-mismatch", "bad-image-runtime"],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, tiny_models, capsys, make, extra, message):
    (tmp_path / "data").mkdir()
    folder = make(tmp_path / "data")
    code, _, err = run(capsys, "eval", "zeroshot", "--folder", str(folder), "--models", "siglip", *extra)
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert code == 2 and len(errors) == 1 and message in errors[0], err
    assert "Traceback" not in err


def test_retrieval_without_captions_is_one_line(class_folder, capsys):
    code, _, err = run(capsys, "eval", "retrieval", "--folder", str(class_folder))
    assert code == 2 and "has no metadata.jsonl or metadata.csv" in err and err.count("error:") == 1


def test_zeroshot_compares_keys_presets_and_references(class_folder, reference_models, tmp_path, capsys):
    """The issue's command, with the presets pointed at local tiny checkpoints of their families."""
    folder = reference_models["siglip2-folder"]
    pe_core = reference_models["open-clip-pe-core"].removeprefix("open_clip:")
    code, out, err = run(
        capsys, "--model", f"siglip2-so400m={folder}", "--model", f"pe-core-l={pe_core}",
        "eval", "zeroshot", "--folder", str(class_folder),
        "--models", f"siglip2,siglip2-so400m,pe-core-l,{reference_models['metaclip2']}",
        "--json", str(tmp_path / "r.json"),
    )  # fmt: skip
    assert code == 0, err
    result = json.loads((tmp_path / "r.json").read_text())
    assert list(result["models"]) == ["siglip2", "siglip2-so400m", "pe-core-l", reference_models["metaclip2"]]
    assert result["details"]["pe-core-l"]["model_id"] == pe_core and "PE-Core L/14-336" in out
    assert "img/s" in out and "memory" in out and result["machine"] in out and result["frontier"]
    header = next(line for line in out.splitlines() if line.strip().startswith("model"))
    assert header.split()[-2:] == ["img/s", "memory"]

    code, _, err = run(capsys, "eval", "zeroshot", "--folder", str(class_folder), "--models", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "has no config.json" in err
