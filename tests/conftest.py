"""Shared pytest setup: offline Hugging Face libraries and tiny local checkpoints for every model slot."""

import os

# Before any other import: huggingface_hub, transformers and gradio read these when first imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The fidelity tests compare with fp32 references; the bf16 fast path is tested explicitly.
os.environ.setdefault("SIGLIP_PROJECTS_PRECISION", "fp32")

from collections.abc import Iterator
from pathlib import Path

import pytest

from core.testing.tiny_models import build_reference_models, build_tiny_models, env_var_name

CACHE_ENV = "SIGLIP_PROJECTS_TEST_CACHE"


def _cache_root() -> Path:
    """Persistent, so reruns reuse the checkpoints (the builder versions its own subfolder)."""
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "siglip-projects-tests")


def pytest_report_header(config: pytest.Config) -> list[str]:
    """The CPU the run is on: which outcomes of the CPU-dependent choices the real runs took."""
    import torch

    from core.encoders.cpu import detect

    model = next(
        (line.split(":", 1)[1].strip() for line in _cpuinfo().splitlines() if line.startswith("model name")),
        "",
    )
    return [f"cpu: {model} ({os.cpu_count()} cores), {detect().describe()}; torch {torch.__version__}"]


def _cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""


@pytest.fixture(scope="session")
def tiny_models() -> Iterator[dict[str, str]]:
    """{slot: local model value}; also exported as SIGLIP_PROJECTS_MODEL_<SLOT> for the session."""
    models = build_tiny_models(_cache_root())
    with pytest.MonkeyPatch.context() as patch:
        for slot, value in models.items():
            patch.setenv(env_var_name(slot), value)
        yield models


@pytest.fixture(scope="session")
def reference_models(tiny_models) -> dict[str, str]:
    """{name: checkpoint reference} of the tiny checkpoints named by reference: `metaclip2` (a folder),
    `open-clip-pe-core` and `open-clip-siglip2` (`open_clip:local-dir:...`), plus `siglip2-folder`
    (the tiny SigLIP 2 checkpoint given as a plain folder reference)."""
    return {**build_reference_models(_cache_root()), "siglip2-folder": tiny_models["siglip2"]}


@pytest.fixture(scope="session")
def ray_instance(tiny_models) -> Iterator[str]:
    """One local Ray instance with 2 CPUs for the whole session (it takes ~5-15 s to start); its
    address, for builds run in other processes. Skipped where Ray Data is not installed.

    After `tiny_models`: the workers inherit this process's environment (offline, tiny checkpoints).
    """
    ray = pytest.importorskip("ray")
    pytest.importorskip("ray.data")
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING")
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()
