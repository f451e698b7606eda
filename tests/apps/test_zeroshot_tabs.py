"""Handlers of the CLIP vs SigLIP and multilingual tabs, called without a browser on tiny models."""

from __future__ import annotations

import math
from pathlib import Path

import gradio as gr
import pytest

from apps import examples
from apps.clip_vs_siglip import MODEL_KEYS as CVS_KEYS
from apps.clip_vs_siglip import compare_clip_siglip
from apps.common import final
from apps.multilingual import MODEL_KEYS as ML_KEYS
from apps.multilingual import compare_multilingual, resolve_language
from core.config import Settings, set_settings
from core.languages import NLLB_LANGUAGES
from core.registry import get_spec
from core.zeroshot import MAX_LABELS, classify, parse_labels

CAT = examples.photo("cat.jpg")


@pytest.fixture(autouse=True)
def tiny_settings(tiny_models):
    set_settings(Settings.from_env())
    yield
    set_settings(None)


def split(values: tuple, keys: tuple[str, ...]) -> tuple[dict[str, dict | None], dict[str, str]]:
    n = len(keys)
    return dict(zip(keys, values[:n], strict=True)), dict(zip(keys, values[n : 2 * n], strict=True))


def test_compare_clip_siglip_shows_each_models_own_scores():
    labels = "cat, dog, car, a cat lying on a rug"
    values = final(compare_clip_siglip(CAT, labels, top_k=10))
    assert len(values) == 2 * len(CVS_KEYS)
    scores, notes = split(values, CVS_KEYS)
    for key in CVS_KEYS:
        expected = {
            row["label"]: row["score"] for row in classify(examples.load_photo("cat.jpg"), labels, model=key)
        }
        assert scores[key] == pytest.approx(expected, rel=1e-4, abs=1e-6)
        assert list(scores[key].values()) == sorted(scores[key].values(), reverse=True)
        assert "Scores sum to" in notes[key]
    # CLIP's softmax shares sum to 1; SigLIP's sigmoids are independent probabilities.
    assert math.isclose(sum(scores["clip"].values()), 1.0, rel_tol=1e-4)
    for key in ("siglip", "siglip2"):
        assert get_spec(key).scoring == "sigmoid"
        assert all(0.0 < score < 1.0 for score in scores[key].values())


def test_top_k_limits_the_labels_and_first_yield_says_models_are_pending():
    steps = list(compare_clip_siglip(CAT, "cat, dog, car, boat, tree", top_k=2))
    assert len(steps) == 1 + len(CVS_KEYS)
    first_scores, first_notes = split(steps[0], CVS_KEYS)
    assert all(value is None for value in first_scores.values())
    assert all(note.startswith("Loading") or "scoring" in note for note in first_notes.values())
    scores, _ = split(steps[-1], CVS_KEYS)
    assert all(len(value) == 2 for value in scores.values())


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ("", "No labels given"),
        (" , ,, ", "No labels given"),
        (", ".join(f"label {i}" for i in range(MAX_LABELS + 1)), f"at most {MAX_LABELS}"),
    ],
)
def test_bad_labels_are_a_clear_error_before_any_model_runs(labels, message):
    with pytest.raises(gr.Error, match=message):
        next(compare_clip_siglip(CAT, labels))


def test_labels_are_trimmed_and_deduplicated():
    scores, _ = split(final(compare_clip_siglip(CAT, " cat ,dog,, cat, dog ,", top_k=50)), CVS_KEYS)
    assert sorted(scores["siglip"]) == ["cat", "dog"]


def test_missing_image_and_bad_template_are_clear_errors(tmp_path: Path):
    with pytest.raises(gr.Error, match="Upload an image"):
        next(compare_clip_siglip(None, "cat, dog"))
    with pytest.raises(gr.Error, match="has no \\{\\}"):
        next(compare_clip_siglip(CAT, "cat, dog", template="a photo"))
    not_an_image = tmp_path / "notes.jpg"
    not_an_image.write_text("hello")
    with pytest.raises(gr.Error, match="could not be read as an image"):
        next(compare_clip_siglip(str(not_an_image), "cat, dog"))


def test_a_model_that_cannot_load_fails_in_its_own_column_only(tmp_path: Path):
    set_settings(Settings.from_env().with_model_overrides([f"clip={tmp_path / 'missing'}"]))
    scores, notes = split(final(compare_clip_siglip(CAT, "cat, dog")), CVS_KEYS)
    assert scores["clip"] is None
    assert "CLIP is unavailable" in notes["clip"] and "Could not load model 'clip'" in notes["clip"]
    assert set(scores["siglip"]) == set(scores["siglip2"]) == {"cat", "dog"}


def test_compare_multilingual_uses_the_chosen_language_for_nllb():
    labels = "Katze, Hund, Auto"
    values = final(compare_multilingual(CAT, labels, "deu_Latn", top_k=5))
    assert len(values) == 2 * len(ML_KEYS) + 1
    scores, notes = split(values, ML_KEYS)
    assert all(set(scores[key]) == {"Katze", "Hund", "Auto"} for key in ML_KEYS), notes
    assert "German" in values[-1]
    expected = classify(
        examples.load_photo("cat.jpg"), labels, model="nllb-clip", template="{}", language="deu_Latn"
    )
    assert scores["nllb-clip"] == pytest.approx({row["label"]: row["score"] for row in expected}, rel=1e-4)


def test_language_is_guessed_from_the_labels_script():
    assert resolve_language("auto", "مجرات، غابة")[0] == "arb_Arab"
    assert resolve_language("", "宇宙飛行士、パイロット")[0] == "jpn_Jpan"
    assert resolve_language("auto", "kahve, çay, süt")[0] == "tur_Latn"
    assert resolve_language("auto", "fusée, garçon")[0] == "fra_Latn"
    with pytest.raises(gr.Error, match="not an NLLB language code"):
        resolve_language("klingon", "cat")
    values = final(compare_multilingual(CAT, "кошка, собака"))
    assert "Russian" in values[-1] and "guessed" in values[-1]


def test_bundled_examples_are_valid():
    assert (examples.EXAMPLES_DIR / "LICENSES.md").is_file()
    for name, labels in examples.CLIP_VS_SIGLIP:
        assert examples.load_photo(name).size[0] > 100
        assert len(parse_labels(labels)) >= 3
    for name, labels, language, _ in examples.MULTILINGUAL:
        assert examples.load_photo(name).size[0] > 100
        assert len(parse_labels(labels)) >= 3, labels
        assert language == "auto" or language in NLLB_LANGUAGES
        if language != "auto":
            assert resolve_language("auto", labels)[0].split("_")[1] == language.split("_")[1]
    bundled = {path.name for path in examples.EXAMPLES_DIR.glob("*.jpg")}
    licensed = (examples.EXAMPLES_DIR / "LICENSES.md").read_text(encoding="utf-8")
    assert bundled and all(f"`{name}`" in licensed for name in bundled)


def test_each_column_takes_any_checkpoint_and_says_which(reference_models):
    labels = "cat, dog, car"
    metaclip = reference_models["metaclip2"]
    pe_core = reference_models["open-clip-pe-core"]
    values = final(compare_clip_siglip(CAT, labels, top_k=10, siglip_model=metaclip))
    scores, notes = split(values, CVS_KEYS)
    photo = examples.load_photo("cat.jpg")
    expected = {row["label"]: row["score"] for row in classify(photo, labels, model=metaclip)}
    assert scores["siglip"] == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert notes["siglip"].startswith("**metaclip2**") and not notes["clip"].startswith("**")
    assert math.isclose(sum(scores["siglip"].values()), 1.0, rel_tol=1e-4)  # MetaCLIP 2: a softmax

    values = final(
        compare_multilingual(CAT, "Katze, Hund", "deu_Latn", mclip_model=pe_core, nllb_clip_model="")
    )
    scores, notes = split(values[:-1], ML_KEYS)
    expected = {
        row["label"]: row["score"] for row in classify(photo, "Katze, Hund", model=pe_core, template="{}")
    }
    assert scores["mclip"] == pytest.approx(expected, rel=1e-4, abs=1e-6)
    assert notes["mclip"].startswith("**open-clip-pe-core**") and scores["nllb-clip"] is not None

    scores, notes = split(final(compare_clip_siglip(CAT, labels, clip_model="/no/such/model")), CVS_KEYS)
    assert scores["clip"] is None and "Cannot use" in notes["clip"] and scores["siglip"] is not None
