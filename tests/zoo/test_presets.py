"""The declarations of ``zoo.presets``: one module per architecture, found without a hand-kept list,
light (no TensorFlow), and each preset's skeleton and input size stated once."""

import subprocess
import sys

import pytest

from zoo.presets import ARCHITECTURES, PRESETS, Architecture, architecture_title, pose_preset
from zoo.store import published_names, published_versions, read_spec


def test_listing_models_and_declarations_imports_no_tensorflow():
    code = ("import sys, zoo, zoo.presets, zoo.architectures; zoo.list_models(); "
            "print('tensorflow' in sys.modules, 'keras' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_every_architecture_and_preset_is_found():
    assert {"hourglass", "cpm", "deeppose", "tompson", "tompson2015", "openpose", "simplebaseline", "ief",
            "nanodet"} <= set(ARCHITECTURES)
    assert {"hourglass-lsp", "hourglass-mpii", "ief-mpii", "tompson2015-mpii", "simplebaseline-coco"} <= set(PRESETS)
    for name, preset in PRESETS.items():
        assert preset.architecture in ARCHITECTURES, name
        assert preset.paper, name


def test_every_published_spec_names_a_declared_architecture():
    for name in published_names():
        for folder in published_versions(name).values():
            assert read_spec(folder).architecture in ARCHITECTURES, folder


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_skeleton_and_input_size_are_the_build_arguments(name):
    preset = PRESETS[name]
    assert preset.skeleton == preset.model_args["skeleton"]
    assert preset.input_size == preset.model_args["input_size"]


def test_published_specs_agree_with_their_build_arguments():
    for name in published_names():
        for folder in published_versions(name).values():
            spec = read_spec(folder)
            assert spec.model_args.get("skeleton", spec.skeleton) == spec.skeleton, folder
            assert spec.model_args.get("input_size", spec.input_size) == spec.input_size, folder


def test_a_preset_must_give_skeleton_and_input_size():
    arch = Architecture("toy", "zoo.architectures.toy", "Toy", paper="a paper")
    with pytest.raises(ValueError, match="must give 'input_size'"):
        pose_preset(arch, "toy-lsp", dict(skeleton="lsp14"), experiment="toy", normalisation={})
    spec = pose_preset(arch, "toy-lsp", dict(skeleton="lsp14", input_size=64), experiment="toy", normalisation={})
    assert (spec.skeleton, spec.input_size, spec.paper, spec.architecture) == ("lsp14", 64, "a paper", "toy")


def test_card_titles_come_from_the_declarations():
    assert architecture_title("hourglass") == "Stacked Hourglass"
    assert architecture_title("tompson2015") == "Coarse heatmaps + fine model on feature crops (Tompson et al. 2015)"
    assert architecture_title("not-declared") == "not-declared"
    # Every pose architecture's card names it by title (the detector's card does not use one).
    pose_architectures = {spec.architecture for spec in PRESETS.values()}
    untitled = sorted(name for name in pose_architectures if not ARCHITECTURES[name].title)
    assert not untitled, f"pose architectures without a card title: {untitled}"


def test_every_architecture_class_loads_lazily_by_name():
    from zoo.architectures import get_architecture

    for name, declared in ARCHITECTURES.items():
        cls = get_architecture(name)
        assert cls.__name__ == declared.class_name and cls.__module__ == declared.module, name
    with pytest.raises(KeyError, match="Unknown architecture 'nope'"):
        get_architecture("nope")
