"""Model cards are generated from measured results: the committed card of every published
version is exactly what ``zoo.model_card`` renders from its ``model.json`` and measurements."""

import pytest

from zoo import registry, store
from zoo.model_card import ACCURACY_TARGET, CARDS_DIR, record_accuracy_target, render_model_card

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


WITH_TARGETS = [m for m in PUBLISHED if ACCURACY_TARGET in store.measurements(registry.get_spec(m))]


def test_the_missed_targets_of_earlier_issues_are_stored_with_their_versions():
    assert {"hourglass-lsp@2", "cpm-lsp@2", "deeppose-lsp@3", "tompson-lsp@2", "openpose-lsp@2"} <= set(WITH_TARGETS)


def test_a_target_on_an_unknown_metric_is_refused():
    with pytest.raises(ValueError, match=r"unknown target metrics \['pck@0.3'\]"):
        record_accuracy_target(registry.get_spec(PUBLISHED[0]), {"pck@0.3": 50.0}, "#1")


@pytest.mark.parametrize("model_id", WITH_TARGETS)
def test_a_version_with_an_accuracy_target_states_it_against_its_measured_figure(model_id):
    """Issues #14, #15: where a target is missed, the card says by how much (from model.json)."""
    spec = registry.get_spec(model_id)
    m = spec.weights.metrics
    figures = {"pck@0.2_limbs": lambda: m["pck@0.2"]["mean_limbs"], "pck@0.2": lambda: m["pck@0.2"]["mean"],
               "ap_scenes": lambda: m["scenes"]["oks"]["AP"], "ap_photos": lambda: m["coco_heldout"]["oks"]["AP"],
               "coco_val_ap": lambda: m["coco_val"]["oks"]["AP"],
               "coco_pck@0.2_limbs": lambda: m["validation_sets"]["coco_people"]["pck@0.2"]["mean_limbs"],
               "mpii_pckh@0.5_limbs": lambda: m["validation_sets"]["mpii_subset"]["pckh@0.5"]["mean_limbs"],
               "lspet_pck@0.2_limbs": lambda: m["validation_sets"]["lspet"]["pck@0.2"]["mean_limbs"],
               "mpii_pckh@0.5": lambda: m["validation_sets"]["mpii_subset"]["pckh@0.5"]["mean"]}
    card = render_model_card(spec)
    assert "## Accuracy target" in card
    for metric, value in store.measurements(spec)[ACCURACY_TARGET]["targets"].items():
        measured = 100 * figures[metric]()
        assert f"measured {measured:.1f} %" in card
        if measured < value:
            assert f"missed by {value - measured:.1f} points" in card and "What would close the gap" in card
        else:
            assert f"measured {measured:.1f} %: met." in card


MPII16 = [m for m in PUBLISHED if registry.get_spec(m).skeleton == "mpii16"
          and "mpii_subset" in registry.get_spec(m).weights.metrics.get("validation_sets", {})]


@pytest.mark.parametrize("model_id", MPII16)
def test_an_mpii_model_stands_beside_the_published_mpii_table(model_id):
    """Issue #28: the card puts the model's own PCKh@0.5 (all joints, MPII subset validation) among
    the seed lectures' MPII figures, in order, and says the test sets differ."""
    spec = registry.get_spec(model_id)
    card = render_model_card(spec)
    section = card.split("## Against the published MPII results")[1].split("\n## ")[0]
    ours = 100 * spec.weights.metrics["validation_sets"]["mpii_subset"]["pckh@0.5"]["mean"]
    rows = [line for line in section.splitlines() if line.startswith("| ") and "---" not in line][1:]
    values = [float(line.split("|")[2]) for line in rows]
    assert len(rows) == 6 and values == sorted(values)
    assert f"(this model)** | {ours:.1f} |" in section and "Not the same test set" in section
    assert "| Newell et al. (Stacked Hourglass), ECCV 2016 | 89.4 |" in section


@pytest.mark.parametrize("model_id", [m for m in PUBLISHED
                                      if registry.get_spec(m).weights.training.get("experiment")])
def test_a_card_names_the_recipe_its_weights_were_trained_with(model_id):
    spec = registry.get_spec(model_id)
    assert f"- Recipe: `python -m training.train {spec.weights.training['experiment']}`" in render_model_card(spec)
