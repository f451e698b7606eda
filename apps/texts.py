"""The app's longer texts (headers, help, notes), kept out of the layout code."""

from __future__ import annotations

from core.limits import quote

TITLE = "SigLIP Projects"

HEADER = """
# SigLIP Projects
Search art or your own images by drawing, text or example, compare how CLIP and SigLIP score labels,
and classify images with labels in any language. Each model loads the first time it is used, so the
first request to a model takes longer.
"""

DRAW_INTRO = """
Draw something (a cat, a boat, a face...), describe it in words, upload a picture, or combine them, and
find the closest images in an index: the WikiArt paintings, a collection you made in the **Your images**
tab, or any index built with `python app.py index build`. The results show each image's title (or file),
artist, style and its cosine similarity to your query; select one and press **More like this**.
"""

FILTER_HELP = """
Only results that pass these are shown, and the search looks among them, so you still get k results
whenever k pass. Filters match the index's metadata exactly (WikiArt: artist, style, genre; your
collections: their folders and any `metadata.csv` columns).
"""

COMBINE_HELP = """
Combine a picture or your drawing with a text ("as a watercolour"), and leave things out ("people,
text"). The query is the weighted sum of the parts' embeddings, each normalised by the model:

`q = normalise(w_picture · e_picture + w_text · e_text − w_leave_out · (n_1 + n_2 + …))`

A weight of 0 drops a part; leave-out texts are separated by commas.
"""

COMBINE_EMPTY = (
    "Give a picture (or press Use my drawing) or a text to search for; leave-out texts are subtracted "
    "from it."
)

SELECT_FIRST = "Select a result first (click it), then press More like this."

SIMILAR_WHAT = "the selected image"

MORE_HINT = "Select a result, then search again from it."


def combined_what(has_image: bool, text: str, negatives: list[str]) -> str:
    parts = (["your picture"] if has_image else []) + ([f"“{text.strip()}”"] if text and text.strip() else [])
    left_out = f" without {', '.join(f'“{n}”' for n in negatives)}" if negatives else ""
    return " + ".join(parts) + left_out


def too_many_negatives(count: int, most: int) -> str:
    return f"{count} texts to leave out; at most {most} are used at once. Keep the most important ones."


def filtered_note(count: int, asked: int) -> str:
    if count < asked:
        return f" · only {count} images pass the filters"
    return " · filtered"


SKETCH_EMPTY = "The canvas is empty. Draw something with the brush first, then press Search drawing."

TEXT_EMPTY = 'Type a description first, e.g. "a stormy sea with a small boat".'


def search_status(count: int, what: str, model: str, index: str) -> str:
    return f"{count} nearest to {what} · {model} · {index}"


def whole_index_note(size: int, asked: int) -> str:
    return f" · you asked for {asked}, so these are all {size} images of the index"


def bad_k_message(k: object, most: int) -> str:
    return (
        f"The number of results (k) must be a whole number from 1 to {most}, got {quote(k)}. "
        "Choose how many paintings to show with the Results slider."
    )


NO_INDEX = """
**No image index is available yet**, so search is off for now; the other tabs work as usual.
{reason}

Build the WikiArt gallery (needs internet once; the paintings are streamed, only those rows are
downloaded) or an index of your own pictures, then restart the app:

```bash
python app.py index build wikiart --dataset huggan/wikiart --split train --limit 2000
python app.py index build my-photos --folder ~/Pictures
```

Or point the app at a folder that already holds built indexes: `python app.py --index-dir PATH`
(or `SIGLIP_PROJECTS_INDEX_DIR=PATH`). `python app.py index build --help` lists every option.
"""


def no_index_note(reason: str = "") -> str:
    return NO_INDEX.format(reason=f"\n> {reason}\n" if reason else "")


def building_note(done: int, total: int, seconds: float) -> str:
    share = f" ({done / total:.0%})" if total else ""
    return (
        f"**Building the WikiArt gallery:** {done:,} of {total:,} paintings indexed{share}, "
        f"{seconds:.0f} s so far. Search starts working when it is done; the other tabs work now."
    )


def gallery_download_note(message: str, seconds: float) -> str:
    return (
        f"**{message}** {seconds:.0f} s so far. Search starts working when it is done; the other tabs "
        "work now."
    )


WIKIART_OFF_HINT = "The automatic WikiArt gallery is off (`SIGLIP_PROJECTS_WIKIART_SIZE=0`)."

CLIP_VS_SIGLIP_INTRO = """
Upload an image and type candidate labels separated by commas. The same image and labels go to
three models; each column shows its top labels.
"""

WHY_SIGMOID = """
### Why SigLIP's scores do not add up to 100 %
CLIP is trained to pick **the one** caption that matches an image among many, so its scores are a
*softmax*: they are shares of one whole and always sum to 1. Add a label and every other score drops,
even if the new label is nonsense.

SigLIP is trained differently: for every image-caption pair it answers a separate yes/no question,
"does this caption fit this image?", with a *sigmoid*. Each score is an independent probability, so
several labels can all be likely (a *cat* and an *animal*), or none (every score near 0 when no label
fits). Adding or removing a label never changes the other labels' scores.
"""

MULTILINGUAL_INTRO = """
Type labels in any language and script (commas of every script work: `,` `，` `、` `،`).
SigLIP multilingual and SigLIP 2 read many languages directly; NLLB-CLIP's tokenizer needs to know
the source language (pick it, or let the app guess it from the labels); multilingual CLIP maps
50+ languages onto CLIP's image space.
"""

TEMPLATE_HELP = "Sentence with one `{}` where each label goes (`{{` and `}}` for literal braces)."

MULTILINGUAL_TEMPLATE_HELP = (
    "Sentence with one `{}` where each label goes, written in the labels' language "
    "(e.g. `Ein Foto von {}.`). Leave `{}` to use the labels alone."
)

LANGUAGE_AUTO = "auto"
LANGUAGE_HELP = "Used only by models whose tokenizer needs it (NLLB-CLIP). 'Guess' reads the labels' script."


def scoring_note(scoring: str) -> str:
    """One line on how a model turns similarities into label scores."""
    if scoring == "sigmoid":
        return "sigmoid: each label is scored on its own; scores need not sum to 1"
    return "softmax: scores are shares of 1 across the labels"


def loading_note(name: str) -> str:
    return f"Loading {name} (first use; this can take a minute)..."


def running_note(name: str) -> str:
    return f"{name} is scoring..."


SINGLE_LABEL_SOFTMAX = (
    "Only one label: a softmax over a single label always gives it 1.00. "
    "Add at least one more label to compare."
)


def failed_note(name: str, error: str) -> str:
    return f"**{name} is unavailable.** {error}"


EVALUATE_INTRO = """
Which model works best **on your images**? Upload a zip, pick the models, and compare their accuracy
side by side, with per-class results and each model's confusion matrix.

- **Classification**: a zip of class folders, one per class (`cat/`, `dog/`, `golden_retriever/`...):
  every image is classified among the folder names (`_` reads as a space).
- **Retrieval**: a zip of images with a `metadata.jsonl` or `metadata.csv` giving each `file_name` a
  `caption` (a JSON list of captions works too): each image searches the captions and each caption the
  images.

Limits per run: {images:,} images, {classes:,} classes, {upload:,} MB, {budget:,} images x models, and
{minutes:g} minutes (a longer run is stopped). For more, run
`python app.py eval zeroshot --folder DIR` on your own machine (see the README).
"""

EVALUATE_NO_FILE = "Upload a zip of class folders (or of images with a metadata.jsonl of captions) first."
EVALUATE_NO_MODEL = "Pick at least one model to evaluate."
ENSEMBLE_HELP = "Average CLIP's 80 ImageNet prompts per class (better accuracy; 80x the text work)."
EVALUATE_LANGUAGE_HELP = "Language of the class names or captions, for NLLB-CLIP's tokenizer."

ABSTAIN_NOTE = (
    '"None of these" is the share of images whose best class scores below 0.5: SigLIP models score '
    "each class on its own and can say that no class fits; softmax models (CLIP, NLLB-CLIP, "
    "multilingual CLIP) always pick one (—)."
)


def evaluation_status(
    task: str, best: str, score: str, images: int, groups: str, models: int, seconds: float
) -> str:
    what = "top-1 accuracy" if task == "zeroshot" else "mean recall@k"
    return (
        f"**Best: {best}**, {what} {score} · {images:,} images, {groups} · {models} model(s) "
        f"in {seconds:.0f} s"
    )


COMPARE_INTRO = """
The same query against two image indexes, each searched with the model it was built with: build one
collection with SigLIP and with SigLIP 2 (in the Your images tab, or `index build --model-key`) and see
which finds what you mean. Scores of different models are not on one scale; compare the rankings.
"""

COMPARE_EMPTY = "Type a description or upload a picture first."


def waiting_note(name: str) -> str:
    return f"Waiting for '{name}'..." if name else "Choose an index."


def compare_status(model: str, index: str, seconds: float) -> str:
    return f"**{model}** · {index} · {seconds:.2f} s"


TRADEOFF_NOTE = (
    "**Speed** (img/s: images embedded per second, decoding included) and **memory** (the model's "
    "weights) were measured on {machine}. Worth their cost on this data: **{frontier}** (no other model "
    "is both faster and better); the picture below shows each model's accuracy against its speed."
)
