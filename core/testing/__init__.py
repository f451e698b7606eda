"""Test support: what the tests and the benchmarks both build on (like `numpy.testing`). The product
never imports it; it needs the development requirements (`pip install -r requirements-dev.txt`).

    tiny_models  tiny, randomly initialised checkpoints of every model family, built offline and
                 loaded through the app's own loading path (`python -m core.testing.tiny_models DIR`)
    fuzz         hostile values for every parameter of the app's API, a raw REST client, the
                 per-request budgets
    calls        counting the calls of a function while code runs (in any thread)
    web          a local web server that records what it is asked for (nothing is fetched from outside)
"""
