"""`python -m core.testing.tiny_models OUTDIR`: build the tiny checkpoints and print shell exports."""

import os
import sys

if __name__ == "__main__":
    # Nothing here needs the Hub; make sure nothing tries (must precede the lazy transformers imports).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from core.testing.tiny_models import main

    raise SystemExit(main(sys.argv[1:]))
