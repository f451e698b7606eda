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
from typing import Any

from core.config import Settings
from core.encoders import Encoder
from core.errors import InvalidInputError, SiglipProjectsError, check_choice
from core.index import hints
from core.index.decode import draft_size_for
from core.index.embedder import IMAGE_RUNTIMES
from core.index.engines import EngineRun
from core.index.engines.ray_stages import EmbedActor, ImageDecoder, shard_table
from core.index.layout import Kind
from core.index.options import BuildOptions
from core.index.plan import Action, Plan
from core.index.reader import JPEG_DECODERS, text_work
from core.index.store import IndexStore
from core.progress import ProgressCallback

log = logging.getLogger(__name__)

#: Items per shard (one Ray Data block, one decode task): about 100 MB of dataset images.
SHARD_ITEMS = 1024
#: Seconds to wait for a Ray address to answer before saying it does not.
CONNECT_SECONDS = 5
#: Environment variables the workers need to load the same checkpoints the same way.
FORWARDED_ENV = ("SIGLIP_PROJECTS_", "HF_", "TRANSFORMERS_", "TOKENIZERS_")


def preflight(options: BuildOptions) -> Any:
    """What can fail in a second, checked before a model is loaded: Ray installed, the cluster's
    address answering, the options' values. Returns the `ray` module.

    Raises:
        InvalidInputError: Ray is not installed (the message gives the install command), nothing
            answers at `ray_address`, or an option has an unknown value.
    """
    check_choice("jpeg_decode", options.jpeg_decode, JPEG_DECODERS)
    check_choice("image_runtime", options.image_runtime, IMAGE_RUNTIMES)
    ray = _import_ray()
    if options.ray_address and not ray.is_initialized():
        _check_reachable(options.ray_address)
    return ray


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
    from core.encoders.base import resolve_device

    return settings if resolve_device(settings.device) == "cpu" else settings.with_(device="cpu")


def embed_on_ray(
    ray: Any,
    plan: Plan,
    store: IndexStore,
    encoder: Encoder,
    shipped: Encoder | None,
    options: BuildOptions,
    settings: Settings,
    progress: ProgressCallback | None,
) -> EngineRun:
    """Embed every item the plan says to embed on a Ray cluster; keep each finished batch in `.partial/`.

    Args:
        ray: The `ray` module (`preflight(options)`).
        encoder: The build's copy of the model (what the index is made with).
        shipped: An encoder object for the actors to use as is (pickled); None: they load
            `options.model_key` with `settings`.

    Raises:
        InvalidInputError: bad options, or an error of the data the workers met.
        SiglipProjectsError: as the local engine (a model that cannot load or embed, a full disk...).
    """
    connected_here = _connect(ray, options.ray_address)
    try:
        shards, total = _shards(ray, plan)
        if progress is not None:
            progress(0, total)
        if not shards:
            return EngineRun()
        dataset, note = _pipeline(ray, shards, plan.source.kind, encoder, shipped, options, settings)
        run = _collect(dataset, plan, store, total, progress)
        run.notes.insert(0, f"{note}; {len(shards)} shards of up to {SHARD_ITEMS} items.")
        return run
    finally:
        if connected_here:  # leaves a cluster running; stops the instance ray.init started here
            ray.shutdown()


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


def _pipeline(
    ray: Any,
    shards: list[Any],
    kind: Kind,
    encoder: Encoder,
    shipped: Encoder | None,
    options: BuildOptions,
    settings: Settings,
) -> tuple[Any, str]:
    """Read the shards, decode images on CPU tasks, embed in the actor pool; and say how, in words."""
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False  # the build reports progress itself
    logging.getLogger("ray.data").setLevel(logging.WARNING)
    batch_size = max(1, options.batch_size or settings.batch_size)
    resources = ray.cluster_resources()
    gpus, cpus = int(resources.get("GPU", 0)), int(resources.get("CPU", 1))
    if gpus:
        actors, placement, where = options.ray_actors or gpus, {"num_gpus": 1, "num_cpus": 1}, "GPU"
    else:
        actors = options.ray_actors or max(1, int(cpus // (options.ray_actor_cpus + 1)))
        placement, where = {"num_cpus": options.ray_actor_cpus}, f"CPU x {options.ray_actor_cpus:g}"
    dataset = ray.data.from_arrow_refs(shards)
    if kind == Kind.IMAGE:
        path = encoder.fast_path
        batched = path is not None and path.tensor_preprocess is not None
        on_gpu = options.jpeg_decode == "torchvision" or (options.jpeg_decode == "auto" and gpus > 0)
        decoder = {
            "draft_size": draft_size_for(encoder, options.thumbnail_size),
            "thumbnail_size": options.thumbnail_size,
            "preprocess": path.preprocess if path is not None else None,
            "gpu_jpegs": batched and on_gpu,  # decoded in the model's actors, as the local engine does
        }
        spare = int(cpus - actors * placement["num_cpus"])
        if spare < 1:
            raise InvalidInputError(
                f"{actors} model replicas of {placement['num_cpus']:g} CPUs leave none of the cluster's "
                f"{cpus} CPUs to decode images: use fewer --ray-actors (or a smaller ray_actor_cpus)."
            )
        dataset = dataset.map_batches(
            ImageDecoder, batch_size=batch_size, batch_format="numpy", fn_constructor_kwargs=decoder,
            compute=ray.data.ActorPoolStrategy(min_size=1, max_size=spare), num_cpus=1,
        )  # fmt: skip
    actor = {
        "model_key": options.model_key, "settings": settings, "encoder": shipped, "kind": str(kind),
        "language": options.language, "image_runtime": options.image_runtime,
        "thumbnail_size": options.thumbnail_size,
    }  # fmt: skip
    dataset = dataset.map_batches(
        EmbedActor, batch_size=batch_size, batch_format="numpy", fn_constructor_kwargs=actor,
        compute=ray.data.ActorPoolStrategy(size=actors), **placement,
    )  # fmt: skip
    return dataset, f"Embedded on Ray ({cpus} CPUs, {gpus} GPUs): {actors} model replicas ({where})"


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
