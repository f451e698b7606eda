"""The registry, the settings and the generated README sections."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core import docs
from core.config import Settings
from core.errors import InvalidInputError, UnknownModelError
from core.registry import CORE_MODELS, MODELS, all_slots, env_var, get_spec, resolve_sources

ROOT = Path(__file__).resolve().parents[2]

# The table of the core issue: key -> default checkpoint(s).
EXPECTED_DEFAULTS = {
    "siglip": {"": "google/siglip-base-patch16-224"},
    "siglip2": {"": "google/siglip2-base-patch16-224"},
    "siglip2-naflex": {"": "google/siglip2-base-patch16-naflex"},
    "siglip-multilingual": {"": "google/siglip-base-patch16-256-multilingual"},
    "clip": {"": "openai/clip-vit-base-patch16"},
    "nllb-clip": {"": "nllb-clip-base"},
    "mclip": {
        "image": "sentence-transformers/clip-ViT-B-32",
        "text": "sentence-transformers/clip-ViT-B-32-multilingual-v1",
    },
}


#: The curated presets of issue 19: key -> (exact Hub id or open_clip name, scoring). Each id checked
#: against its model card; the open_clip names against open_clip's own list.
EXPECTED_PRESETS = {
    "siglip2-large": ("google/siglip2-large-patch16-256", "sigmoid"),
    "siglip2-so400m": ("google/siglip2-so400m-patch14-384", "sigmoid"),
    "siglip2-so400m-naflex": ("google/siglip2-so400m-patch16-naflex", "sigmoid"),
    "siglip2-giant": ("google/siglip2-giant-opt-patch16-384", "sigmoid"),
    "pe-core-b": ("PE-Core-B-16", "softmax"),
    "pe-core-l": ("PE-Core-L-14-336", "softmax"),
    "metaclip2-b16": ("facebook/metaclip-2-worldwide-b16", "softmax"),
    "metaclip2-s16": ("facebook/metaclip-2-worldwide-s16", "softmax"),
}


def test_presets_are_registry_models_that_nothing_loads_unasked():
    import open_clip

    presets = {key: (spec.towers[0][1], spec.scoring) for key, spec in MODELS.items() if spec.preset}
    assert presets == EXPECTED_PRESETS and not set(presets) & set(CORE_MODELS)
    assert all(MODELS[key].lowercase_texts for key in presets if key.startswith("siglip2"))
    assert MODELS["siglip2-so400m-naflex"].native_resolution
    for key in ("pe-core-b", "pe-core-l"):
        tag = MODELS[key].pretrained_tag
        assert tag in open_clip.list_pretrained_tags_by_model(MODELS[key].towers[0][1])
    assert "84.1" in MODELS["siglip2-so400m"].published and "big_vision" in MODELS["siglip2-so400m"].published
    assert "57.1" in MODELS["pe-core-l"].published
    from benchmarks.model_costs import MODELS as COSTED  # the README's cost table covers every preset

    assert set(COSTED) == {*presets, "siglip2"}


def test_registry_holds_the_agreed_models_and_defaults():
    assert {key: dict(MODELS[key].towers) for key in CORE_MODELS} == EXPECTED_DEFAULTS
    assert MODELS["nllb-clip"].pretrained_tag == "v1"
    assert MODELS["siglip2-naflex"].native_resolution
    assert {key for key in CORE_MODELS if MODELS[key].scoring == "sigmoid"} == {
        "siglip",
        "siglip2",
        "siglip2-naflex",
        "siglip-multilingual",
    }


def test_slots_and_environment_variables():
    assert all_slots()["mclip-text"] == EXPECTED_DEFAULTS["mclip"]["text"]
    assert env_var("siglip2-naflex") == "SIGLIP_PROJECTS_MODEL_SIGLIP2_NAFLEX"
    assert env_var("mclip-image") == "SIGLIP_PROJECTS_MODEL_MCLIP_IMAGE"


def test_unknown_model_key_names_the_known_ones():
    with pytest.raises(UnknownModelError, match="Known models: siglip, siglip2"):
        get_spec("siglip3")


@pytest.mark.parametrize(
    ("key", "shown"),
    [
        ("m" * 1_000_000, "'" + "m" * 40 + "…' (1,000,000 characters)"),
        (["siglip"], "['siglip']"),
        (None, "None"),
    ],
    ids=["1-mb-name", "a-list", "none"],
)
def test_an_unknown_model_key_of_any_size_or_type_is_quoted_short(key, shown):
    with pytest.raises(UnknownModelError) as refused:
        get_spec(key)
    assert str(refused.value).startswith(f"Unknown model {shown}. Known models: {', '.join(MODELS)}; or a ")


def test_a_bad_model_override_is_quoted_short():
    with pytest.raises(InvalidInputError, match=r"got 'x{40}…' \(5,000 characters\)\.$"):
        Settings().with_model_overrides(["x" * 5_000])
    with pytest.raises(UnknownModelError, match=r"Unknown model slot 'y{40}…' \(5,000 characters\)"):
        Settings().with_model_overrides(["y" * 5_000 + "=/models/x"])


def test_settings_from_environment_and_flags(tmp_path):
    env = {
        "SIGLIP_PROJECTS_INDEX_DIR": str(tmp_path),
        "SIGLIP_PROJECTS_BATCH_SIZE": "7",
        "SIGLIP_PROJECTS_MODEL_SIGLIP": "/models/siglip",
        "SIGLIP_PROJECTS_MODEL_MCLIP_TEXT": "/models/mclip-text",
        "UNRELATED": "x",
    }
    settings = Settings.from_env(env)
    assert settings.index_dir == tmp_path
    assert settings.batch_size == 7
    assert settings.model_overrides == {"siglip": "/models/siglip", "mclip-text": "/models/mclip-text"}
    # A flag wins over the environment; other slots keep their values.
    settings = settings.with_model_overrides(["siglip=/other", "clip = /models/clip"])
    assert resolve_sources(MODELS["siglip"], settings.model_overrides) == {"": "/other"}
    assert resolve_sources(MODELS["clip"], settings.model_overrides) == {"": "/models/clip"}
    assert resolve_sources(MODELS["mclip"], settings.model_overrides) == {
        "image": EXPECTED_DEFAULTS["mclip"]["image"],
        "text": "/models/mclip-text",
    }


def test_on_a_space_with_persistent_storage_indexes_go_there(tmp_path, monkeypatch):
    from core import config

    monkeypatch.setattr(config, "SPACE_STORAGE", tmp_path)
    assert Settings.from_env({"SPACE_ID": "me/app"}).index_dir == tmp_path / "indexes"
    assert Settings.from_env({}).index_dir == Path("indexes")  # not a Space
    assert Settings.from_env({"SPACE_ID": "me/app", "SIGLIP_PROJECTS_INDEX_DIR": "/x"}).index_dir == Path(
        "/x"
    )
    monkeypatch.setattr(config, "SPACE_STORAGE", tmp_path / "none")  # a Space without persistent storage
    assert Settings.from_env({"SPACE_ID": "me/app"}).index_dir == Path("indexes")
    assert Settings.from_env({"SIGLIP_PROJECTS_UPLOAD_CACHE_MINUTES": "0.5"}).upload_cache_minutes == 0.5
    assert Settings.from_env({"SIGLIP_PROJECTS_ADMIN": "1"}).admin is True


@pytest.mark.parametrize(
    ("env", "error", "message"),
    [
        ({"SIGLIP_PROJECTS_BATCH_SIZE": "many"}, InvalidInputError, "not a valid int"),
        ({"SIGLIP_PROJECTS_MODEL_SIGLIP3": "x"}, UnknownModelError, "names no model slot"),
    ],
)
def test_bad_environment_values_are_clear_errors(env, error, message):
    with pytest.raises(error, match=message):
        Settings.from_env(env)


@pytest.mark.parametrize(
    ("assignment", "error"),
    [("siglip", InvalidInputError), ("siglip=", InvalidInputError), ("nope=x", UnknownModelError)],
)
def test_bad_model_flags_are_clear_errors(assignment, error):
    with pytest.raises(error):
        Settings().with_model_overrides([assignment])


def test_readme_tables_are_generated_from_the_registry_and_settings():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert docs.render(readme) == readme, "README.md is out of date: run `python -m core.docs`"
    for spec in MODELS.values():
        assert f"`{spec.key}`" in readme
        for slot in spec.slots():
            assert env_var(slot) in readme


def test_cli_help_lists_every_model_slot():
    result = subprocess.run(
        [sys.executable, "app.py", "--help"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    for slot, default in all_slots().items():
        assert slot in result.stdout and default in result.stdout


def test_cli_bad_model_flag_is_one_line_error():
    result = subprocess.run(
        [sys.executable, "app.py", "--model", "siglip3=/x"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "Unknown model slot 'siglip3'" in result.stderr


def test_importing_the_core_loads_no_ml_library():
    code = (
        "import sys, core, core.config, core.registry, core.encoders, core.zeroshot, core.images\n"
        "heavy = [m for m in ('torch', 'transformers', 'open_clip', 'sentence_transformers', 'faiss',"
        " 'huggingface_hub', 'gradio') if m in sys.modules]\n"
        "print(heavy)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
