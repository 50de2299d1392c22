"""The README's models table is the one generated from the store (so it cannot go stale), and the
generator reads every published version of the zoo's own store."""

from pathlib import Path

from tools import models_table
from zoo import registry

ROOT = Path(__file__).resolve().parents[2]


def test_readme_table_is_the_generated_one():
    readme = (ROOT / "README.md").read_text()
    assert models_table.readme_table(readme) == models_table.table(), (
        "README.md's models table is stale: run python -m tools.models_table")
    assert models_table.main(["--check"]) == 0


def test_every_published_version_has_a_row_and_its_card_exists():
    text = models_table.table()
    for folder in sorted(registry.PACKAGE_STORE.glob("*/*/model.json")):
        name, version = folder.parent.parent.name, folder.parent.name
        assert f"| `{name}@{version}` |" in text
        assert (ROOT / "model_cards" / name / f"{version}.md").is_file(), f"no card for {name}@{version}"


def test_rewrite_replaces_only_between_the_markers():
    text = f"intro\n{models_table.BEGIN}\nold table\n{models_table.END}\noutro\n"
    new = models_table.rewrite(text)
    assert new.startswith("intro\n") and new.endswith("outro\n") and "old table" not in new
    assert models_table.readme_table(new) == models_table.table()


def test_an_mpii_model_row_gives_mpii_pckh_over_all_joints():
    """Issue #28's figure: PCKh@0.5 over all 16 joints of the MPII subset's validation people."""
    spec = registry.get_spec("hourglass-mpii@1")
    pckh = spec.weights.metrics["validation_sets"]["mpii_subset"]["pckh@0.5"]["mean"]
    row = next(line for line in models_table.table().splitlines() if line.startswith("| `hourglass-mpii@1` |"))
    assert f"PCKh@0.5 all joints {100 * pckh:.1f} %" in row
