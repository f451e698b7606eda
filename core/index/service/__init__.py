"""Services of the app around indexes: work that outlives one request, and sharing.

    jobs         background builds by name, and where each stands
    pulling      download a pushed index: the repo listed first, only the files its manifest names
    hub          push an index to a Hub dataset repo; pull one, every file verified
    gallery      the default WikiArt gallery: pulled or built in the background on first start
    owners       who owns a collection (taken with its name), the ownership rule, sharing
    quotas       per owner and for the app: collections, images, bytes, builds in flight, disk budget
    collections  the app's uploaded collections: limits, ownership, background builds, deletion

Each module imports only those above it (and `build`, `format`, `searching`,
`sources`).
"""
