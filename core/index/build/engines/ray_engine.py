"""The Ray engine's driver: the build's plan, run on a Ray cluster with Ray Data.

The build's process plans as the local engine does (keep, resume, embed, skip per item) and puts the
items to embed into the object store in shards of `SHARD_ITEMS` (one Arrow block each: paths, image
bytes or texts). Ray Data then streams them through an autoscaling pool of CPU actors that decode
and preprocess images (`ray_stages.ImageDecoder`, on the CPUs the model leaves free) and an actor
pool that holds the model (`ray_stages.EmbedActor`: one actor per GPU with `num_gpus=1`, or CPU
actors on a CPU-only cluster). Two actor pools are never fused by Ray, so decoding and embedding
overlap. Beside GPUs, JPEG files are only read by the CPU actors and decoded in batches on the
model's GPU, as the local engine does (`jpeg_decode`). Each finished model batch comes
back here and is kept in `.partial/` by `Plan.keep_batch`, exactly like a local batch; the build
commits as always.

Faults: Ray restarts an actor whose process dies and retries the batch it held (Ray Data's defaults
for actor pools: `max_restarts=-1`, `max_task_retries=-1`). If this process
dies, the cluster drops the job; the index is untouched and a re-run resumes from `.partial/`.
Only this process writes the index, so the index folder need not be shared with the workers (image
files must be readable by them at the same path). Planning reads the whole source first: for a
folder that is a listing (the shards hold paths), for a dataset every row (its image bytes are hashed
to plan, then travel through the object store, which Ray spills to disk when it fills).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import replace
from typing import Any

from core.config import Settings
from core.encoders import Encoder
from core.encoders.base import resolve_device
from core.errors import InvalidInputError, SiglipProjectsError
from core.index import hints
from core.index.build.decode import draft_size_for
from core.index.build.engines.job import EngineJob, EngineRun
from core.index.build.engines.ray_stages import EmbedActor, ImageDecoder, shard_table
from core.index.build.options import EmbedOptions, RayOptions
from core.index.build.plan import Action, Plan
from core.index.build.reader import text_work
from core.index.format.layout import Kind
from core.index.format.store import IndexStore
from core.progress import ProgressCallback

log = logging.getLogger(__name__)

#: Items per shard (one Ray Data block, one decode task): about 100 MB of dataset images.
SHARD_ITEMS = 1024
#: Seconds to wait for a Ray address to answer before saying it does not.
CONNECT_SECONDS = 5
#: Environment variables the workers need to load the same checkpoints the same way.
FORWARDED_ENV = ("SIGLIP_PROJECTS_", "HF_", "TRANSFORMERS_", "TOKENIZERS_")


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # `ray[data]`, not only the core
    except ImportError:
        raise InvalidInputError(
            f"--engine ray needs Ray Data, which is not installed. {hints.ray_install_hint()}"
        ) from None
    return ray


def driver_settings(settings: Settings) -> Settings:
    """The build's own copy of the model only tells what the index is (key, checkpoint, dimension,
    preprocessing): keep it on the CPU, off the GPUs the actors use."""
    return settings if resolve_device(settings.device) == "cpu" else settings.with_(device="cpu")


class RayEngine:
    """Embeds a build's items on a Ray cluster. Made before any model loads, so that a missing Ray or
    an address where nothing answers fails at once.

    Args:
        options: Where the cluster is, how many model replicas of how many CPUs.
        embedding: The embedder's options, for the model's actors.
        model_key, settings: What the actors load (unless `shipped` is given) and how.
        shipped: An encoder object for the actors to use as is (pickled).

    Raises:
        InvalidInputError: Ray is not installed (the message gives the install command), or nothing
            answers at `options.address`.
    """

    def __init__(
        self,
        options: RayOptions,
        embedding: EmbedOptions,
        model_key: str,
        settings: Settings,
        shipped: Encoder | None = None,
    ) -> None:
        self.ray = _import_ray()
        if options.address and not self.ray.is_initialized():
            _check_reachable(options.address)
        self.options = options
        # Each actor would time the runtimes on its own first batch, and might choose differently.
        self.measured = embedding.image_runtime == "auto"
        self.embedding = replace(embedding, image_runtime="torch") if self.measured else embedding
        self.model_key = model_key
        self.settings = settings
        self.shipped = shipped

    def embed(self, job: EngineJob) -> EngineRun:
        """Embed every item the plan says to embed; keep each finished batch in `.partial/`.

        Raises:
            InvalidInputError: an error of the data the workers met, or too few CPUs to decode.
            SiglipProjectsError: as the local engine (a model that cannot load or embed, a full disk...).
        """
        ray = self.ray
        connected_here = _connect(ray, self.options.address)
        try:
            shards, total = _shards(ray, job.plan)
            job.report(0, total)
            if not shards:
                return EngineRun()
            dataset, note = self._pipeline(shards, job)
            run = _collect(dataset, job.plan, job.store, total, job.progress)
            run.notes.insert(0, f"{note}; {len(shards)} shards of up to {SHARD_ITEMS} items.")
            if self.measured:
                run.notes.insert(1, "Ray builds embed with torch (image_runtime auto measures local builds).")
            return run
        finally:
            if connected_here:  # leaves a cluster running; stops the instance ray.init started here
                ray.shutdown()

    def _pipeline(self, shards: list[Any], job: EngineJob) -> tuple[Any, str]:
        """Read the shards, decode images on CPU actors, embed in the model's actor pool; and say how,
        in words."""
        ray, options, reading = self.ray, self.options, job.reading
        context = ray.data.DataContext.get_current()
        context.enable_progress_bars = False  # the build reports progress itself
        logging.getLogger("ray.data").setLevel(logging.WARNING)
        resources = ray.cluster_resources()
        gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
        if gpus:
            actors, placement, where = options.actors or gpus, {"num_gpus": 1, "num_cpus": 1}, "GPU"
        else:
            actors = options.actors or max(1, int(cpus // (options.actor_cpus + 1)))
            placement, where = {"num_cpus": options.actor_cpus}, f"CPU x {options.actor_cpus:g}"
        dataset = ray.data.from_arrow_refs(shards)
        kind = job.plan.source.kind
        if kind == Kind.IMAGE:
            spare = int(cpus - actors * placement["num_cpus"])
            if spare < 1:
                raise InvalidInputError(
                    f"{actors} model replicas of {placement['num_cpus']:g} CPUs leave none of the "
                    f"cluster's {cpus} CPUs to decode images: use fewer --ray-actors (or a smaller "
                    "ray_actor_cpus)."
                )
            dataset = dataset.map_batches(
                ImageDecoder, batch_size=reading.batch_size, batch_format="numpy",
                fn_constructor_kwargs=_decoder(job, on_gpu=reading.jpeg_decode == "torchvision"
                                               or (reading.jpeg_decode == "auto" and gpus > 0)),
                compute=ray.data.ActorPoolStrategy(min_size=1, max_size=spare), num_cpus=1,
            )  # fmt: skip
        actor = {
            "model_key": self.model_key, "settings": self.settings, "encoder": self.shipped,
            "kind": str(kind), "embedding": self.embedding, "thumbnail_size": reading.thumbnail_size,
        }  # fmt: skip
        dataset = dataset.map_batches(
            EmbedActor, batch_size=reading.batch_size, batch_format="numpy", fn_constructor_kwargs=actor,
            compute=ray.data.ActorPoolStrategy(size=actors), **placement,
        )  # fmt: skip
        return dataset, f"Embedded on Ray ({cpus} CPUs, {gpus} GPUs): {actors} model replicas ({where})"


def _decoder(job: EngineJob, on_gpu: bool) -> dict[str, Any]:
    """What the CPU decoders need: draft size, thumbnail size, the model's preprocessing, and whether
    JPEGs travel undecoded to the model's actors (beside GPUs, as the local engine decodes them)."""
    encoder, thumbnail_size = job.encoder, job.reading.thumbnail_size
    path = encoder.fast_path
    batched = path is not None and path.tensor_preprocess is not None
    return {
        "draft_size": draft_size_for(encoder, thumbnail_size),
        "thumbnail_size": thumbnail_size,
        "preprocess": path.preprocess if path is not None else None,
        "gpu_jpegs": batched and on_gpu,
    }


def _connect(ray: Any, address: str | None) -> bool:
    """Join the cluster at `address`, or the Ray instance running here, or start one; True when this
    call connected (False: this process was connected already)."""
    if ray.is_initialized():
        return False
    env = {name: value for name, value in os.environ.items() if name.startswith(FORWARDED_ENV)}
    try:
        ray.init(address=address, runtime_env={"env_vars": env}, logging_level=logging.WARNING)
    except ConnectionError as error:
        raise InvalidInputError(
            f"Could not join the Ray cluster at {address}: {error}. {hints.ray_cluster_hint()}"
        ) from None
    return True


def _check_reachable(address: str) -> None:
    """Fail in seconds where nothing answers at a `host:port` address (ray.init retries for minutes).

    Raises:
        InvalidInputError: the address does not answer.
    """
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", "local": Ray's own lookup
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_SECONDS).close()
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise InvalidInputError(
            f"Nothing answers at the Ray address {address} ({reason}). {hints.ray_cluster_hint()}"
        ) from None


def _shards(ray: Any, plan: Plan) -> tuple[list[Any], int]:
    """Plan every item (the driver's ledger sees them in source order); the items to embed go to the
    object store in shards. Returns the shards' references and how many items they hold."""
    items, _ = plan.items()
    shards: list[Any] = []
    pending: list[Any] = []
    total = 0
    for item in items:
        action, reason = plan.action(item), ""
        if action == Action.EMBED and plan.source.kind == Kind.TEXT:
            work = text_work(item)
            action, reason = work.action, work.reason
        plan.saw(item, action, reason)
        if action == Action.EMBED:
            pending.append(item)
        if len(pending) == SHARD_ITEMS:
            shards.append(ray.put(shard_table(pending)))
            total, pending = total + len(pending), []
    if pending:
        shards.append(ray.put(shard_table(pending)))
        total += len(pending)
    return shards, total


def _collect(
    dataset: Any, plan: Plan, store: IndexStore, total: int, progress: ProgressCallback | None
) -> EngineRun:
    """Keep each model batch the cluster finishes, as it comes; the first user error stops the build."""
    run = EngineRun()
    notes: set[str] = set()
    done = 0
    try:
        for batch in dataset.iter_batches(batch_size=None, batch_format="numpy"):
            run.seconds += float(batch["seconds"].sum())
            notes.update(note for text in set(batch["notes"]) for note in str(text).splitlines())
            done += _keep(plan, store, batch)
            if progress is not None:
                progress(done, max(total, done))
    except SiglipProjectsError:
        raise
    except Exception as error:  # Ray wraps what a worker raised; show the user's error as it is
        cause = _user_error(error)
        if cause is None:
            raise
        raise cause from None
    run.notes += sorted(note for note in notes if note)
    return run


def _keep(plan: Plan, store: IndexStore, batch: dict[str, Any]) -> int:
    """Record one finished batch: skips with their reasons, the rest into `.partial/`."""
    items = [plan.seen[str(key)] for key in batch["key"]]
    good = []
    for n, reason in enumerate(batch["reason"]):
        if reason:
            plan.saw(items[n], Action.SKIP, str(reason))
        else:
            good.append(n)
    derived = [_derived(store, batch, n) for n in good]
    plan.keep_batch([items[n] for n in good], derived, batch["vector"][good])
    return len(items)


def _derived(store: IndexStore, batch: dict[str, Any], n: int) -> dict[str, Any]:
    """What an image row keeps beside its vector: its thumbnail (written here) and full size."""
    if "thumbnail" not in batch:
        return {}
    thumbnail = store.write_thumbnail(bytes(batch["thumbnail"][n]))
    return {"_thumbnail": thumbnail, "width": int(batch["width"][n]), "height": int(batch["height"][n])}


def _user_error(error: BaseException) -> SiglipProjectsError | None:
    """The SigLIP Projects error a Ray exception carries (through `cause` and `__cause__`), if any."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if isinstance(current, SiglipProjectsError):
            return current
        seen.add(id(current))
        current = getattr(current, "cause", None) or current.__cause__
    return None
