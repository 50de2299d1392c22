"""A preset for the tiny COCO-17 OpenPose of the recipe ``openpose_coco_tiny`` (64 px, trains on
the COCO photos' training split like ``openpose_coco``), shared by the tests of how such a model
is evaluated, published, parity-checked and carded (tests/training/test_people_validation_photos.py,
tests/tools/test_publish_openpose_coco.py)."""

import dataclasses

TINY = "openpose-coco-tiny"


def register_tiny_coco_preset(monkeypatch) -> str:
    """Registers ``TINY`` for the test: openpose-coco's preset with the tiny recipe's build
    arguments and recipe name. Returns the name."""
    from training.experiments import get_experiment
    from zoo import registry

    exp = get_experiment("openpose_coco_tiny")
    spec = dataclasses.replace(registry.PRESETS["openpose-coco"], name=TINY, model_args=dict(exp.model_args),
                               input_size=exp.model_args["input_size"], experiment=exp.name)
    monkeypatch.setitem(registry.PRESETS, TINY, spec)
    return TINY
