"""Searching indexes: open the one a request names, embed its query, find the nearest items.

    target      SearchTarget: an index opened for one model (what a request searches)
    load        load_index: checked against the manifest, cached per version, memory-mapped when large
    served      which thumbnail folders the app may serve (the app says how: Gradio's static paths)
    resolve     open_index(model, name): registry once, compatibility once, thumbnails served; the
                default index of each model and the indexes usable with one
    query       query vectors: texts, images, vectors, weighted and negative combinations
    filters     metadata filters, and the search among the rows that pass them
    search      search, search_batch, similar (more like this); Hit

Each module imports only those above it (and `core.index.format`,
`core.index.ann`).
"""
