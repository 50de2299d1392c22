"""Model cards are generated from measured results: the committed card of every published
version is exactly what ``zoo.model_card`` renders from its ``model.json`` and measurements."""

import pytest

from zoo import registry, store
from zoo.model_card import CARDS_DIR, render_model_card
from zoo.presets import ACCURACY_TARGETS

PUBLISHED = [f"{name}@{v}" for name in registry.known_names()
             for v, folder in store.published_versions(name).items()
             if folder.parent.parent == store.PACKAGE_STORE]


def test_every_shipped_model_has_a_card():
    assert PUBLISHED, "no model is published in the package store"


@pytest.mark.parametrize("model_id", PUBLISHED)
def test_committed_card_is_the_generated_one(model_id):
    spec = registry.get_spec(model_id)
    card = CARDS_DIR / spec.name / f"{spec.version}.md"
    assert card.is_file(), f"{card} missing: run python -m tools.model_card {model_id}"
    assert card.read_text() == render_model_card(spec), (
        f"{card} differs from the generated card: regenerate it with python -m tools.model_card {model_id}")


@pytest.mark.parametrize("model_id", sorted(ACCURACY_TARGETS))
def test_a_version_with_an_accuracy_target_states_it_against_its_measured_figure(model_id):
    """Issues #14, #15: where a target is missed, the card says by how much (from model.json)."""
    spec = registry.get_spec(model_id)
    m = spec.weights.metrics
    figures = {"pck@0.2_limbs": lambda: m["pck@0.2"]["mean_limbs"], "pck@0.2": lambda: m["pck@0.2"]["mean"],
               "ap_scenes": lambda: m["scenes"]["oks"]["AP"], "ap_photos": lambda: m["coco_heldout"]["oks"]["AP"]}
    card = render_model_card(spec)
    assert "## Accuracy target" in card
    for metric, value in ACCURACY_TARGETS[model_id]["targets"].items():
        measured = 100 * figures[metric]()
        assert f"measured {measured:.1f} %" in card
        if measured < value:
            assert f"missed by {value - measured:.1f} points" in card and "What would close the gap" in card
        else:
            assert f"measured {measured:.1f} %: met." in card
