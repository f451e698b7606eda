"""The folder of an index on disk, and the one reader and writer of its format.

    layout      names and paths of the files; the vocabulary: Kind, IndexType, the gallery's name
    fsio        atomic writes, fsync, checksums (whole or sampled), full-disk and read-only messages
    lock        one build of an index at a time
    access      access.json: who owns a collection and who may see it (Caller, Access), hashes only
    manifest    manifest.json: Manifest, parsing and validating it; the one size formula
    rows        metadata.jsonl of large indexes, read on access
    thumbnails  display thumbnails, named by their own sha256
    partial     .partial/: finished batches of an unfinished build
    loaded      LoadedIndex: a version read for searching
    verify      checking data files against the manifest (sampled when large), and everything on demand
    store       IndexStore: `read` (the only reader), `commit` (the only writer), lock, delete
    compat      the one rule on which model may read or extend an index, and its message
    catalog     the listing of the index folder: IndexInfo, Catalog (re-reads only changed manifests)

Each module imports only those above it (and `core.index.ann`).
"""
