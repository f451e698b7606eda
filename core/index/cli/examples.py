"""The examples that `python app.py index build|info --help` shows (help text, out of the code;
search's are in core.index.cli.search)."""

BUILD_EXAMPLES = """examples:
  # a folder of images (recursive); re-run it to add new images and drop deleted ones
  python app.py index build photos --folder ~/Pictures --model-key siglip

  # the first 2,000 WikiArt paintings, streamed (only those rows are downloaded)
  python app.py index build wikiart --dataset huggan/wikiart --split train --limit 2000

  # a text index from a file (.txt: one text per line; .csv/.jsonl: --text-column)
  python app.py index build captions --texts captions.csv --text-column caption

  # a text index from a dataset column
  python app.py index build poems --dataset ./my_dataset --text-column verse

  # a different model, or replace an index built with another model
  python app.py index build photos --folder ~/Pictures --model-key siglip2 --rebuild

  # on a Ray cluster (`ray start --head` prints the address; other nodes `ray start --address ADDR`)
  python app.py index build archive --folder /shared/photos --engine ray --ray-address ADDR

  # millions of items: a compressed index (IVF-PQ, re-ranked from float16 vectors) within 2 GB of RAM
  python app.py index build archive --folder /shared/photos --memory-budget 2GB

An interrupted build resumes where it stopped when the same command is run again.
Global flags go before `index`: python app.py --batch-size 16 --index-dir /data/indexes index build ...
"""

INFO_EXAMPLES = """examples:
  python app.py index info                  # every index: kind, model, items, type, size
  python app.py index info photos           # one index: its manifest
  python app.py index info photos --verify  # and check every file and thumbnail checksum
"""
