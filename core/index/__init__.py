"""Embedding indexes: build (batched, resumable), store (manifest, atomic writes), search."""
