"""The one interface every model family implements, and the optional fast path of bulk image embedding.

Callers use four members: `embed_images`, `embed_texts`, `scores` and `dim` (plus `key` and `model_id`
to name what is loaded). Index builds and evaluations may also use `fast_path`: the model's image
preprocessing split from its forward pass, so images can be decoded and preprocessed ahead of the model
(in a reader thread, worker processes or on the GPU) and embedded in batches.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import numpy as np
from PIL import Image

from core.config import Settings
from core.encoders.cpu import CpuFeatures
from core.encoders.cpu import detect as detect_cpu
from core.limits import model_text, quote
from core.progress import ProgressCallback
from core.registry import ModelSpec, sources_id
from core.vectors import Embeddings, normalize

__all__ = [
    "Embeddings",
    "Encoder",
    "FastPath",
    "ImagePreprocessor",
    "Pixels",
    "ProgressCallback",
    "TensorImagePreprocessor",
    "collate",
    "normalize",
]

#: A batch of model inputs for images, as CPU tensors keyed like the model's keyword arguments
#: (`pixel_values`, and for NaFlex `pixel_attention_mask` and `spatial_shapes`); first dimension: images.
Pixels: TypeAlias = dict[str, Any]
#: Turns RGB PIL images into `Pixels`. Picklable, so it can run in worker processes.
ImagePreprocessor: TypeAlias = Callable[[list[Image.Image]], Pixels]
#: Turns decoded uint8 (3, H, W) image tensors (on any device) into `Pixels` on that device.
TensorImagePreprocessor: TypeAlias = Callable[[Sequence[Any]], Pixels]


@dataclass(eq=False)
class FastPath:
    """A family's image preprocessing, split from the forward pass, for bulk embedding.

    Attributes:
        image_size: Side in pixels of the square the model sees (None: variable, as for NaFlex).
            Larger images may be decoded at a reduced scale (JPEG draft mode) down to it.
        preprocess: The model's own preprocessing of RGB PIL images, picklable.
        tensor_preprocess: The same on decoded uint8 (3, H, W) tensors on any device (GPU-decoded
            JPEGs), agreeing with `preprocess` at cosine >= 0.999; None where there is none.
        embed_batch: Embeds one batch of `Pixels` (called under `torch.inference_mode`).
    """

    image_size: int | None
    preprocess: ImagePreprocessor
    tensor_preprocess: TensorImagePreprocessor | None
    embed_batch: Callable[[Pixels], np.ndarray]

    def embed(self, pixels: Pixels) -> Embeddings:
        """Embed one batch of preprocessed images (from `preprocess`, or `collate` of single-image
        outputs): the same vectors as `Encoder.embed_images` on the same images, (n, D) float32."""
        import torch

        with torch.inference_mode():
            return self.embed_batch(pixels)


class Encoder(ABC):
    """A loaded model that embeds images and texts into one space and scores labels.

    Subclasses load everything in `__init__` (the loader calls it once per process, under a lock),
    set `logit_scale` and `logit_bias` (read in fp32) and keep tokenizer details to themselves. How
    similarities become label scores is the registry's `ModelSpec.scoring`, nothing else.
    """

    logit_scale: float = 1.0
    logit_bias: float = 0.0

    def __init__(self, spec: ModelSpec, sources: dict[str, str], settings: Settings) -> None:
        self.spec = spec
        self.sources = sources
        self.settings = settings
        self.device = resolve_device(settings.device)
        self.dtype = resolve_dtype(settings.precision, self.device)

    @property
    def key(self) -> str:
        return self.spec.key

    @property
    def model_id(self) -> str:
        """The checkpoint(s) actually loaded, as one string (recorded in index manifests)."""
        return sources_id(self.sources)

    @property
    @abstractmethod
    def dim(self) -> int:
        """Embedding dimension."""

    @property
    def fast_path(self) -> FastPath | None:
        """The bulk image path (None: the family embeds PIL images only, through `embed_images`)."""
        return None

    def _embed_image_batch(self, images: list[Image.Image]) -> np.ndarray:
        """Embed one batch of RGB images; return (n, D) float32, normalised."""
        path = self.fast_path
        if path is None:
            raise NotImplementedError(f"{type(self).__name__} must implement _embed_image_batch.")
        return path.embed_batch(path.preprocess(images))

    @abstractmethod
    def _embed_text_batch(self, texts: list[str], language: str | None) -> np.ndarray:
        """Embed one batch of texts; return (n, D) float32, normalised."""

    def scores(self, image_embedding: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
        """Zero-shot scores of one image against L label texts: (D,) and (L, D) -> (L,).

        An independent sigmoid per label, or a softmax over the labels, as `spec.scoring` says.
        """
        logits = self.logit_scale * (text_embeddings @ image_embedding) + self.logit_bias
        return sigmoid(logits) if self.spec.scoring == "sigmoid" else softmax(logits)

    def embed_images(
        self,
        images: Sequence[Image.Image],
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Embeddings:
        """Embed PIL images of any mode and size.

        Args:
            images: Images; each is converted to RGB (transparency on white) before the model sees it.
            batch_size: Images per model call (default: the settings' batch size).
            progress: Called after each batch with (done, total).

        Returns:
            (N, D) float32 array, rows L2-normalised.
        """
        from core.images import to_rgb

        return self._batched(
            [to_rgb(image) for image in images], self._embed_image_batch, batch_size, progress
        )

    def embed_texts(
        self,
        texts: Sequence[str],
        *,
        language: str | None = None,
        batch_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> Embeddings:
        """Embed texts. `language` is the source-language code for models that need one (NLLB-CLIP).

        A text longer than `core.limits.MAX_TEXT_CHARS` is cut there before its tokenizer runs: the
        models read only its first 64 to 128 tokens, which lie within that prefix (see `core.limits`).

        Returns:
            (N, D) float32 array, rows L2-normalised.
        """
        return self._batched(
            [model_text(text) for text in texts],
            lambda batch: self._embed_text_batch(batch, language),
            batch_size,
            progress,
        )

    def _batched(
        self,
        items: list,
        embed_batch: Callable[[list], np.ndarray],
        batch_size: int | None,
        progress: ProgressCallback | None,
    ) -> Embeddings:
        import torch

        batch_size = batch_size or self.settings.batch_size
        parts = []
        with torch.inference_mode():
            for start, batch in _chunks(items, batch_size):
                parts.append(embed_batch(batch))
                if progress is not None:
                    progress(start + len(batch), len(items))
        if not parts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def collate(parts: Sequence[Pixels]) -> Pixels:
    """Join `Pixels` of single images (or small batches) into one batch, concatenating each input."""
    import torch

    return {key: torch.cat([torch.as_tensor(part[key]) for part in parts]) for key in parts[0]}


def _chunks(items: list, size: int) -> Iterator[tuple[int, list]]:
    for start in range(0, len(items), size):
        yield start, items[start : start + size]


def to_numpy(tensor) -> np.ndarray:
    """(n, D) tensor -> L2-normalised float32 numpy rows, normalised in float32 on the device."""
    tensor = tensor.float()
    return (tensor / tensor.norm(dim=-1, keepdim=True).clamp_min(1e-12)).cpu().numpy()


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max()
    exp = np.exp(shifted)
    return exp / exp.sum()


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits))


#: What `precision` may be set to.
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def native_low_precision(device: str, cpu: CpuFeatures | None = None) -> str:
    """The half precision `device` computes natively: "bf16" on CUDA GPUs with bf16 and on CPUs with
    native bf16 (`CpuFeatures.native_bf16`: AVX512-BF16, AMX, ARM BF16; default: this CPU), "fp16" on
    older GPUs, "fp32" on CPUs without (emulated bf16 is slower than fp32)."""
    if device.startswith("cuda"):
        import torch

        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if (cpu or detect_cpu()).native_bf16 else "fp32"


def resolve_precision(
    precision: str, device: str, *, bulk: bool = False, cpu: CpuFeatures | None = None
) -> str:
    """The precision ("fp32", "bf16" or "fp16") a model runs in for one kind of use.

    `auto` is fp32 for interactive uses (zero-shot tabs, query embeddings: one image or text at a time,
    where scores must equal the fp32 reference) and, for bulk uses (index builds, evaluation runs),
    the half precision the hardware computes natively (`native_low_precision`).

    Raises:
        InvalidInputError: an unknown precision, or fp16 on the CPU.
    """
    from core.errors import InvalidInputError

    if precision == "auto":
        return native_low_precision(device, cpu) if bulk else "fp32"
    if precision not in PRECISIONS or (precision == "fp16" and not device.startswith("cuda")):
        raise InvalidInputError(
            f"Precision {quote(precision)} is not available on {device}: use auto, fp32 or bf16 "
            "(fp16 only on a GPU)."
        )
    return precision


def resolve_dtype(precision: str, device: str, *, bulk: bool = False):  # -> torch.dtype
    """The torch dtype of `resolve_precision(precision, device, bulk=bulk)`.

    Raises:
        InvalidInputError: as `resolve_precision`.
    """
    import torch

    resolved = resolve_precision(precision, device, bulk=bulk)
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[resolved]


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"
