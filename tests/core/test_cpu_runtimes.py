"""The image runtime of CPU builds and evaluations: decided by measurement, right on every CPU.

What depends on the CPU is tested through its seams, for every kind of CPU on any machine: the
precision and the int8 variants given `CpuFeatures`, the choice given measured `Trial`s. The real runs
on this machine assert only what must hold everywhere: whatever was chosen agrees with fp32.
"""

from __future__ import annotations

import json
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.config import Settings
from core.encoders import get_encoder, onnx_tower, runtime_memory, runtimes
from core.encoders.base import collate, resolve_precision
from core.encoders.cpu import CpuFeatures, detect, read_flags
from core.encoders.runtimes import Candidate, Trial, agreement, measure, pick
from core.images import open_image
from core.index import BuildOptions, FolderSource, build_index, load_index
from tests.core.index.conftest import make_image

AVX2 = CpuFeatures("x86_64", frozenset({"avx", "avx2", "fma"}), "AVX2")
AVX512 = CpuFeatures("x86_64", AVX2.flags | {"avx512f"}, "AVX512")
AVX512_BF16 = CpuFeatures("x86_64", AVX512.flags | {"avx512_bf16", "avx512_vnni"}, "AVX512")
AMX = CpuFeatures("x86_64", AVX512.flags | {"avx512_vnni", "amx_tile", "amx_bf16", "amx_int8"}, "AVX512")
#: An AVX512-BF16 machine with ATEN_CPU_CAPABILITY=avx2: torch no longer uses AVX-512, ONNX Runtime does.
LOWERED = CpuFeatures("x86_64", AVX512_BF16.flags, "AVX2")
ARM_V8_2 = CpuFeatures("aarch64", frozenset({"asimd", "asimddp"}), "DEFAULT")
ARM_V8_6 = CpuFeatures("aarch64", frozenset({"asimd", "asimddp", "i8mm", "bf16", "sve"}), "SVE256")
ARM_V8_0 = CpuFeatures("aarch64", frozenset({"asimd"}), "DEFAULT")


@pytest.mark.parametrize(
    ("cpu", "bulk"),
    [(AVX2, "fp32"), (AVX512, "fp32"), (AVX512_BF16, "bf16"), (AMX, "bf16"), (LOWERED, "fp32"),
     (ARM_V8_0, "fp32"), (ARM_V8_2, "fp32"), (ARM_V8_6, "bf16")],
)  # fmt: skip
def test_bulk_precision_is_bf16_only_where_the_cpu_computes_it(cpu, bulk):
    assert resolve_precision("auto", "cpu", bulk=True, cpu=cpu) == bulk
    assert resolve_precision("auto", "cpu", cpu=cpu) == "fp32"  # interactive uses: always fp32
    assert resolve_precision("fp32", "cpu", bulk=True, cpu=cpu) == "fp32"  # explicit: as given


@pytest.mark.parametrize(
    ("cpu", "variants"),
    [(AVX2, ("onnx-int8-7bit", "onnx-uint8")), (AVX512, ("onnx-int8-7bit", "onnx-uint8")),
     (AVX512_BF16, ("onnx-int8",)), (AMX, ("onnx-int8",)), (LOWERED, ("onnx-int8",)),
     (ARM_V8_0, ("onnx-int8-7bit", "onnx-uint8")), (ARM_V8_2, ("onnx-int8",))],
)  # fmt: skip
def test_int8_variants_avoid_saturation_where_there_is_no_int8_dot_product(cpu, variants):
    assert tuple(q.name for q in onnx_tower.quantisations_for(cpu)) == variants
    by_name = {q.name: q for q in onnx_tower.QUANTISATIONS}
    assert by_name["onnx-int8-7bit"].reduce_range and not by_name["onnx-int8"].reduce_range


def test_cpu_features_are_read_from_cpuinfo():
    x86 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse avx avx2 fma\n\nprocessor\t: 1\n"
    arm = "processor\t: 0\nFeatures\t: fp asimd asimddp bf16\nCPU implementer\t: 0x41\n"
    assert read_flags(x86) == {"fpu", "sse", "avx", "avx2", "fma"}
    assert read_flags(arm) == {"fp", "asimd", "asimddp", "bf16"}
    assert AVX2.describe() == "x86_64, torch AVX2: avx2 fma; no avx512, no bf16, no vnni, no amx"
    assert "no" not in AMX.describe().split(":")[1].split() and "amx" in AMX.describe()
    assert detect().arch == platform.machine()


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="x86-64 dispatch levels")
def test_a_lowered_torch_capability_is_read_as_such():
    """ATEN_CPU_CAPABILITY lowers what torch dispatches to on any x86-64 CPU; bulk work then stays fp32."""
    code = (
        "from core.encoders.cpu import detect; from core.encoders.base import resolve_precision; "
        "cpu = detect(); print(cpu.capability, cpu.native_bf16, resolve_precision('auto', 'cpu', bulk=True))"
    )
    env = {"ATEN_CPU_CAPABILITY": "default", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True,
        cwd=Path(__file__).parents[2],
    )  # fmt: skip
    assert out.stdout.split() == ["DEFAULT", "False", "fp32"]


#: Measured on a 2-core AMD EPYC with AVX2 only (real-size SigLIP B/16, random weights, batch 8).
AVX2_TRIALS = [
    Trial("torch-fp32", 0.350, 1.0, True),
    Trial("onnx-fp32", 0.279, 1.0, True),
    Trial("onnx-int8-7bit", 0.187, 0.99844, True),
    Trial("onnx-uint8", 0.230, 0.99926, True),
]


def test_the_fastest_runtime_that_agrees_with_fp32_is_kept():
    runtime, reason = pick(AVX2_TRIALS, "torch-fp32")
    assert runtime == "onnx-uint8"
    assert reason.startswith("the fastest that agrees with fp32: 1.52x torch-fp32, cosine 0.9993")
    assert "refused: onnx-int8-7bit 1.87x torch-fp32 but cosine 0.9984 < 0.999" in reason

    agreeing = [*AVX2_TRIALS[:2], Trial("onnx-int8-7bit", 0.187, 0.9992, True), AVX2_TRIALS[3]]
    assert pick(agreeing, "torch-fp32")[0] == "onnx-int8-7bit"
    moved = [*AVX2_TRIALS[:2], Trial("onnx-int8-7bit", 0.187, 0.9995, False), AVX2_TRIALS[3]]
    runtime, reason = pick(moved, "torch-fp32")
    assert runtime == "onnx-uint8" and "onnx-int8-7bit 1.87x torch-fp32 but neighbours moved" in reason
    # The full-range weights of today on that CPU (cosine 0.947): never kept, fp32 ORT is.
    saturated = [*AVX2_TRIALS[:2], Trial("onnx-int8", 0.172, 0.947, True)]
    assert pick(saturated, "torch-fp32")[0] == "onnx-fp32"
    # onnx-int8 asked for: the int8 variants or the encoder's own runtime, whatever their speed.
    int8_only = [AVX2_TRIALS[0], Trial("onnx-int8", 0.172, 0.947, True)]
    runtime, reason = pick(int8_only, "torch-fp32")
    assert runtime == "torch-fp32" and "refused: onnx-int8 2.03x torch-fp32 but cosine 0.9470" in reason
    nothing = [Trial("torch-bf16", 0.2, 0.998, True), Trial("onnx-int8", 0.1, 0.99, True)]
    runtime, reason = pick(nothing, "torch-bf16")
    assert runtime == "torch-bf16" and reason.startswith("no runtime agrees with fp32 at cosine >= 0.999;")


def test_agreement_checks_each_cosine_and_each_nearest_neighbour():
    def triangle(second: float) -> np.ndarray:
        """Image 0 at 0.5 from image 1 and at `second` from image 2 (images 1 and 2 far apart)."""
        return np.array([[1, 0, 0], [0.5, np.sqrt(0.75), 0], [second, 0, np.sqrt(1 - second**2)]])

    def moved_towards_2(reference: np.ndarray) -> np.ndarray:
        shifted = reference.copy()
        shifted[0] = reference[0] + 0.02 * reference[2]
        shifted[0] /= np.linalg.norm(shifted[0])
        return shifted

    reference = triangle(0.495)  # fp32 tells 1 from 2 by 0.005
    assert agreement(reference, reference) == (pytest.approx(1.0), True)
    cosine, same = agreement(moved_towards_2(reference), reference)
    assert cosine >= runtimes.MIN_COSINE and not same  # close enough per image, yet another neighbour
    near_tie = triangle(0.4995)  # 1 and 2 are near-duplicates as seen from 0: a swap is no change
    cosine, same = agreement(moved_towards_2(near_tie), near_tie)
    assert cosine >= runtimes.MIN_COSINE and same

    rng = np.random.default_rng(0)
    apart = rng.normal(size=(4, 64))
    apart /= np.linalg.norm(apart, axis=1, keepdims=True)
    noisy = apart + rng.normal(scale=0.01, size=apart.shape)
    cosine, same = agreement(noisy / np.linalg.norm(noisy, axis=1, keepdims=True), apart)
    assert cosine < 0.999 and same


@pytest.fixture(scope="module")
def auto(tiny_models) -> Settings:
    """What a user gets by default: precision auto (bf16 for bulk work where native, else fp32)."""
    return Settings.from_env().with_(precision="auto")


def test_measure_times_each_candidate_on_the_same_pixels(auto):
    encoder = get_encoder("siglip", auto, bulk=True)
    pixels = collate([encoder.fast_path.preprocess([make_image(seed)]) for seed in range(6)])
    rng = np.random.default_rng(0)

    def noisy(scale: float) -> Candidate:
        def embed(batch):
            vectors = encoder.fast_path.embed(batch)
            vectors = vectors + rng.normal(scale=scale, size=vectors.shape).astype(np.float32)
            return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)

        return Candidate(f"noise-{scale}", embed)

    own = Candidate("own", encoder.fast_path.embed)
    ticks = iter([0.0, 6.0, 10.0, 11.2, 20.0, 20.6])  # own 1 s/image, 0.2 s, 0.1 s
    trials = measure([own, noisy(1e-4), noisy(0.2)], "own", pixels, clock=lambda: next(ticks))
    assert [(t.runtime, t.seconds_per_image) for t in trials] == [
        ("own", 1.0), ("noise-0.0001", pytest.approx(0.2)), ("noise-0.2", pytest.approx(0.1))
    ]  # fmt: skip
    assert [t.agrees for t in trials] == [True, True, False]
    assert pick(trials, "own")[0] == "noise-0.0001"


def _photos(folder: Path, count: int = 6) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    for seed in range(count):
        make_image(seed, (160, 120)).save(folder / f"photo{seed}.jpg", quality=92)
    return sorted(folder.glob("*.jpg"))


def _build(name: str, folder: Path, settings: Settings, **options) -> tuple[object, dict]:
    report = build_index(
        name, FolderSource(folder), BuildOptions(thumbnail_size=64, **options), settings=settings
    )
    manifest = json.loads((report.path / "manifest.json").read_text())
    return report, manifest["last_build"].get("image_runtime")


def test_auto_keeps_the_fastest_runtime_that_agrees_on_this_cpu(auto, tmp_path, monkeypatch):
    """The real choice on whatever CPU runs this: every candidate this CPU has is timed, the one kept
    is the fastest that agrees with fp32, and the index's vectors agree with fp32 torch."""
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(runtimes, "EXPORT_MIN_IMAGES", 1)  # export and try even for this small build
    monkeypatch.setattr(runtimes, "TRIAL_MIN_IMAGES", 1)
    paths = _photos(tmp_path / "photos")
    settings = auto.with_(index_dir=tmp_path / "indexes", batch_size=6)
    report, record = _build("auto", tmp_path / "photos", settings)

    cpu = detect()
    bulk = "torch-bf16" if cpu.native_bf16 else "torch-fp32"
    variants = {q.name for q in onnx_tower.quantisations_for(cpu)}
    trials = [Trial(**trial) for trial in record["trials"]]
    # ONNX Runtime fp32 is timed as the fp32 reference beside bf16, or when no int8 variant agrees.
    fp32_timed = bulk == "torch-bf16" or not any(t.agrees for t in trials if t.runtime in variants)
    assert {trial.runtime for trial in trials} == {bulk, *variants} | ({"onnx-fp32"} if fp32_timed else set())
    assert record["runtime"] == pick(trials, "torch-fp32" if bulk == "torch-fp32" else "onnx-fp32", bulk)[0]
    assert record["cpu"] == cpu.describe()
    assert f"Images embedded with {record['runtime']}: " in " ".join(report.notes)

    fp32 = get_encoder("siglip", settings.with_(precision="fp32"))
    index = load_index("auto", settings=settings)
    by_path = {row["path"]: vector for row, vector in zip(index.rows, index.vectors(), strict=True)}
    seed = np.concatenate([fp32.embed_images([open_image(path)]) for path in paths])
    got = np.stack([by_path[path.name] for path in paths])
    assert float((got * seed).sum(axis=1).min()) >= 0.998  # agreement 0.999, and draft decoding


def test_small_builds_use_a_cached_export_and_explicit_settings_are_honoured(auto, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    _photos(tmp_path / "photos", 3)
    settings = auto.with_(index_dir=tmp_path / "indexes", batch_size=4)
    exports = tmp_path / "cache" / "siglip-projects" / "onnx"

    _, record = _build("tiny", tmp_path / "photos", settings)  # 3 images: no trial at all
    assert "too few for a trial" in record["reason"] and record["trials"] == [] and not exports.exists()
    monkeypatch.setattr(runtimes, "TRIAL_MIN_IMAGES", 1)
    _, record = _build("small", tmp_path / "photos", settings)
    assert "no exported tower is cached" in record["reason"] and not exports.exists()
    for runtime, precision, reason in [
        ("torch", "auto", "image_runtime=torch"),
        ("auto", "fp32", "precision fp32"),
    ]:
        _, record = _build(
            runtime, tmp_path / "photos", settings.with_(precision=precision), image_runtime=runtime
        )
        assert record["runtime"] in ("torch-fp32", "torch-bf16") and reason in record["reason"]
        assert record["trials"] == [] and not exports.exists()  # nothing exported, nothing timed

    _build("forced", tmp_path / "photos", settings, image_runtime="onnx-int8")  # exports and quantises
    files = {path: path.stat().st_mtime_ns for path in exports.glob("*/*.onnx")}
    assert len(files) == 1 + len(onnx_tower.quantisations_for())
    _, record = _build("cached", tmp_path / "photos", settings)
    assert {q.name for q in onnx_tower.quantisations_for()} <= {t["runtime"] for t in record["trials"]}
    assert {path: path.stat().st_mtime_ns for path in exports.glob("*/*.onnx")} == files  # not again


def test_a_remembered_choice_is_kept_per_cpu_and_library_versions(auto, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    encoder = get_encoder("siglip", auto, bulk=True)
    record = {"runtime": "onnx-uint8", "reason": "the fastest that agrees", "trials": []}
    runtime_memory.remember(encoder, "torch-fp32", AVX2, record)
    assert runtime_memory.recall(encoder, "torch-fp32", AVX2).runtime == "onnx-uint8"
    assert runtime_memory.recall(encoder, "torch-fp32", AVX512_BF16) is None  # another CPU: no memory
    assert runtime_memory.recall(encoder, "torch-bf16", AVX2) is None  # measured against another torch
    (onnx_tower.cache_folder(encoder) / runtime_memory.FILE_NAME).write_text("{not json")
    assert runtime_memory.recall(encoder, "torch-fp32", AVX2) is None  # a broken cache is no memory


def test_small_builds_use_the_remembered_choice_once_their_own_images_agree(auto, tmp_path, monkeypatch):
    """A build too small for a trial uses what the last trial here chose for the checkpoint, checked
    on its own first images against fp32; where they disagree, torch."""
    pytest.importorskip("onnxruntime")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    paths = _photos(tmp_path / "photos", 3)
    settings = auto.with_(index_dir=tmp_path / "indexes", batch_size=4)
    _build("forced", tmp_path / "photos", settings, image_runtime="onnx-int8")  # a trial: remembered
    encoder, cpu = get_encoder("siglip", settings, bulk=True), detect()
    own = runtimes.torch_name(encoder)
    remembered = runtime_memory.recall(encoder, own, cpu)
    assert remembered is not None

    _, record = _build("real", tmp_path / "photos", settings)  # whatever this CPU's trial chose
    if remembered.runtime == own:
        assert record["runtime"] == own and "too few for a trial" in record["reason"]
    else:
        assert (
            record["runtime"] in (remembered.runtime, own)
            and "checked on this build's first 3 images" in (record["reason"])
        )
    fp32 = get_encoder("siglip", settings.with_(precision="fp32"))
    index = load_index("real", settings=settings)
    by_path = {row["path"]: vector for row, vector in zip(index.rows, index.vectors(), strict=True)}
    seed = np.concatenate([fp32.embed_images([open_image(path)]) for path in paths])
    assert float((np.stack([by_path[p.name] for p in paths]) * seed).sum(axis=1).min()) >= 0.998

    closest = onnx_tower.quantisations_for(cpu)[-1]  # both outcomes of the check, through its threshold
    runtime_memory.remember(encoder, own, cpu, {"runtime": closest.name, "reason": "a trial", "trials": []})
    monkeypatch.setattr(runtimes, "MIN_COSINE", -1.0)  # anything agrees
    _, record = _build("agrees", tmp_path / "photos", settings)
    assert record["runtime"] == closest.name and "remembered from the last trial" in record["reason"]
    monkeypatch.setattr(runtimes, "MIN_COSINE", 1.5)  # nothing agrees
    _, record = _build("disagrees", tmp_path / "photos", settings)
    assert record["runtime"] == own and f"{closest.name}, remembered as the fastest" in record["reason"]
