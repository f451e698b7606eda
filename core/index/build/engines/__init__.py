"""Engines: the ways a build embeds what its plan says to embed.

    job         EngineJob (the one object an engine is given: plan, store, encoder, progress, and the
                reader's and embedder's options) and EngineRun (what it reports back)
    local       this process: the prefetching reader and the embedder (`core.index.build.reader`,
                `embedder`)
    ray_stages  what runs on the Ray workers (the decoders and the model's actors)
    ray_engine  a Ray cluster, driven from the build's process: Ray Data decodes and preprocesses on CPU
                workers, an actor pool holding the model embeds

Both take the build's `Plan` (in the job) and hand every finished batch to `Plan.keep_batch`, which
writes it into `.partial/`; the build then commits what is there. So the index, its manifest and the
resume rule (an interrupted build re-embeds only unfinished batches) do not depend on the engine.
Each module imports only those above it.
"""
