"""Building and updating indexes: `build_index(name, source, options)` and the stages it runs.

    plan        keep / resume / embed / skip per item, the ledger, the new version's rows
    options     BuildOptions (checked once, every allowed value here) and its slices for each stage;
                BuildReport
    decode      CPU decode (JPEG draft mode), thumbnails, preprocessing, worker processes
    gpu_decode  batched nvJPEG decode, EXIF on tensors
    reader      items to chunks of loaded work, one step ahead of the model
    embedder    batches to vectors; one-by-one fallback; the int8 runtime
    engines/    where the embedding runs: this process (local) or a Ray cluster (ray_engine, ray_stages)
    driver      build_index: lock -> plan -> embed (an engine) -> commit, in one short function

Each module imports only those above it. What is written is
`core.index.format`'s.
"""
