"""Lookup and loading: ``name@version`` -> spec -> Keras model with verified weights.

A name is a preset (``zoo.presets``: how to build the model) and its published versions
(``zoo.store``: trained weights). ``get_spec`` finds the spec, ``load`` builds the model and loads
its sha256-checked weights, ``publish`` adds trained weights of a preset to the store.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Tuple

from zoo.presets import PRESETS
from zoo.specs import ModelNotFoundError, ModelSpec, WeightsIntegrityError, WeightsNotPublishedError
from zoo.store import PACKAGE_STORE, add_version, published_names, published_versions, read_spec, sha256_file
from zoo.tasks import Task

# Imported from here by training, edge and tools.
__all__ = ["PRESETS", "PACKAGE_STORE", "ModelSpec", "ModelNotFoundError", "WeightsIntegrityError",
           "WeightsNotPublishedError", "parse_name", "known_names", "list_models", "get_spec", "most_accurate",
           "task_of", "weights_path", "build", "load", "publish", "published_versions"]


def parse_name(name: str) -> Tuple[str, Optional[int]]:
    """``"hourglass-lsp@2"`` -> ``("hourglass-lsp", 2)``; bare name -> version None."""
    if not isinstance(name, str) or not name:
        raise ModelNotFoundError(f"model name must be a non-empty string, got {name!r}")
    m = re.fullmatch(r"([a-z0-9][a-z0-9_\-]*)(?:@(\d+))?", name.strip())
    if not m:
        raise ModelNotFoundError(
            f"malformed model name {name!r}: expected 'name' or 'name@N', e.g. 'hourglass-lsp@1'")
    return m.group(1), (int(m.group(2)) if m.group(2) else None)


def known_names() -> List[str]:
    return sorted(set(PRESETS) | set(published_names()))


def list_models(published_only: bool = False) -> List[str]:
    """Every ``name@version`` published, plus (unless ``published_only``) unpublished presets."""
    out = []
    for name in known_names():
        versions = published_versions(name)
        out.extend(f"{name}@{v}" for v in versions)
        if not versions and not published_only:
            out.append(name)
    return out


def _how_to_publish(name: str) -> str:
    preset = PRESETS.get(name)
    exp = preset.experiment if preset else "<experiment>"
    return (f"Train it with `python -m training.train {exp} --workdir runs/{exp} --data <annotations>`, "
            f"then publish it with `python -m tools.publish {name} runs/{exp}/final.weights.h5 "
            f"--workdir runs/{exp} --data <annotations>` (or zoo.publish(...)); "
            f"after that zoo.load({name!r}) loads it. zoo.load({name!r}, weights=None) builds it untrained.")


def _describe_published() -> str:
    pub = list_models(published_only=True)
    return ", ".join(pub) if pub else "none"


def get_spec(name: str) -> ModelSpec:
    """The spec of ``name`` or ``name@N``: the newest published version, else the preset."""
    base, version = parse_name(name)
    versions = published_versions(base)
    if base not in PRESETS and not versions:
        raise ModelNotFoundError(
            f"unknown model {base!r}. Known models: {', '.join(list_models())}")
    if version is None:
        if not versions:
            return PRESETS[base]
        version = max(versions)
    if version not in versions:
        have = ", ".join(f"{base}@{v}" for v in versions) or "none"
        raise ModelNotFoundError(
            f"{base}@{version} does not exist; published versions of {base}: {have}. "
            f"All published models: {_describe_published()}")
    return read_spec(versions[version])


def task_of(spec: ModelSpec) -> Task:
    """The task of ``spec``'s architecture (top-down or bottom-up)."""
    from zoo.architectures import get_architecture

    return get_architecture(spec.architecture).task


#: The validation sets of everyday photos ``most_accurate`` ranks by (users' photos look like these).
EVERYDAY_SETS = ("coco_people", "mpii_subset")
#: What ``most_accurate`` ranks by.
RANKING_METRIC = ("limb PCK@0.2 on the everyday photos' validation people, the COCO photos and the MPII subset "
                  "together, each set weighted by its people (model.json: metrics.validation_sets), where a version "
                  "measured them; below those, the version's own validation limb PCK@0.2 (metrics.pck@0.2.mean_limbs)")


def _ranking(spec: ModelSpec):
    """``(measured on everyday photos, score)`` of a published top-down version, or None."""
    metrics = spec.weights.metrics
    sets = metrics.get("validation_sets") or {}
    if all(name in sets for name in EVERYDAY_SETS):
        people = [sets[name]["num_images"] for name in EVERYDAY_SETS]
        limbs = [sets[name]["pck@0.2"]["mean_limbs"] for name in EVERYDAY_SETS]
        return (1, sum(p * v for p, v in zip(people, limbs)) / max(sum(people), 1))
    own = (metrics.get("pck@0.2") or {}).get("mean_limbs")
    return None if own is None else (0, own)


def most_accurate(skeleton: Optional[str] = None) -> str:
    """``name@version`` of the published single-person (top-down) model ranked first by
    ``RANKING_METRIC`` (of the ``skeleton`` models only, when given): the default model of the
    main job and of ``tools.predict``."""
    from zoo.tasks import TOP_DOWN

    best = None
    for name in published_names():
        for version in published_versions(name):
            spec = get_spec(f"{name}@{version}")
            if (skeleton and spec.skeleton != skeleton) or task_of(spec) is not TOP_DOWN:
                continue
            rank = _ranking(spec)
            if rank is not None and (best is None or rank > best[0]):
                best = (rank, spec.id)
    if best is None:
        raise ModelNotFoundError(f"no published single-person {skeleton or ''} model with a validation PCK; "
                                 f"published: {_describe_published()}".replace("  ", " "))
    return best[1]


def weights_path(spec: ModelSpec) -> Path:
    """Path of the weights of a published spec, verified against its sha256."""
    if spec.weights is None or spec.version is None:
        raise WeightsNotPublishedError(
            f"no trained weights are published for {spec.name!r}. Published models: "
            f"{_describe_published()}. {_how_to_publish(spec.name)}")
    folder = published_versions(spec.name)[spec.version]
    path = folder / spec.weights.file
    if not path.is_file():
        raise WeightsIntegrityError(f"{spec.id}: weights file {path} is missing")
    digest = sha256_file(path)
    if digest != spec.weights.sha256:
        raise WeightsIntegrityError(
            f"{spec.id}: weights file {path} has sha256 {digest}, expected {spec.weights.sha256}; "
            "the file is damaged or was replaced. Nothing was loaded.")
    return path


#: Options that change how a trained model decodes, not what it learned (``zoo.load(...,
#: flip_test=True, subpixel="dark")``): the flip test, DARK sub-pixel decoding, map smoothing.
TEST_TIME_OPTIONS = ("flip_test", "subpixel", "decoder_blur")


def build(spec: ModelSpec, **options):
    """Builds the (untrained) Keras model of ``spec``; ``options``: ``TEST_TIME_OPTIONS`` replacing
    the spec's own (e.g. ``flip_test=True``)."""
    from zoo.architectures import get_architecture

    unknown = sorted(set(options) - set(TEST_TIME_OPTIONS))
    if unknown:
        raise ValueError(f"{spec.id}: unknown option {unknown[0]!r}; the test-time options are "
                         f"{', '.join(TEST_TIME_OPTIONS)}")
    architecture = get_architecture(spec.architecture)
    if options:
        from zoo.architectures.base import HeatmapPoseModel

        if not issubclass(architecture, HeatmapPoseModel):
            raise ValueError(f"{spec.id} ({spec.architecture}) does not take the test-time options "
                             f"{', '.join(sorted(options))}: they are options of heatmap models")
    model = architecture(**{**spec.model_args, **options})
    model.build((None, spec.input_size, spec.input_size, 3))
    model.spec = spec
    return model


def load(name: str, weights: Optional[str] = "published", **options):
    """Returns the Keras model ``name`` (``"hourglass-lsp"`` or ``"hourglass-lsp@1"``).

    Args:
        name: model name, optionally ``@version`` (bare name = newest published version).
        weights: ``"published"`` (default) loads the verified published weights; ``None`` builds
            the architecture untrained; a path loads that weights file, into the preset's build
            (the current recipe, which trained it: the next version) for a bare name, into that
            version's build for ``name@N``.
        options: test-time options of heatmap models (``TEST_TIME_OPTIONS``): ``flip_test=True``
            averages in the mirrored image's heatmaps (joints swapped), ``subpixel="dark"`` decodes
            with DARK's Taylor step; exports of the model keep them inside the graph.

    The model has ``predict_keypoints(images)``: uint8 RGB ``(N, S, S, 3)`` ->
    ``(keypoints (N, K, 2) input pixels, scores (N, K))``, joints in ``model.skeleton`` order.
    """
    base, version = parse_name(name)
    own_file = weights not in ("published", None)
    spec = PRESETS[base] if own_file and version is None and base in PRESETS else get_spec(name)
    if weights == "published":
        path = weights_path(spec)
    elif weights is None:
        path = None
    else:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
    model = build(spec, **options)
    if path is not None:
        try:
            model.load_weights(str(path))
        except Exception as e:
            raise ValueError(f"{path}: cannot load weights into {spec.id} ({type(e).__name__}: {e})") from None
    return model


def publish(name: str, weights_file, training: Dict, metrics: Dict, store: Optional[Path] = None) -> ModelSpec:
    """Publishes trained weights of preset ``name`` as its next version in ``store`` (default:
    the local store) and returns the published spec.

    Loads the weights into the preset's architecture first (so a wrong file fails here and nothing
    is written), then ``zoo.store.add_version`` writes the version folder. The model card is not
    written here: ``python -m tools.model_card name@version`` (or ``tools.publish``) renders it.
    """
    base, version = parse_name(name)
    if version is not None:
        raise ValueError(f"publish takes a bare name (versions are numbered automatically), got {name!r}")
    if base not in PRESETS:
        raise ModelNotFoundError(f"no preset {base!r} to publish; presets: {sorted(PRESETS)}")
    weights_file = Path(weights_file)
    if not weights_file.is_file():
        raise FileNotFoundError(f"weights file not found: {weights_file}")
    preset = PRESETS[base]
    model = build(preset)
    try:
        model.load_weights(str(weights_file))
    except Exception as e:
        raise ValueError(f"{weights_file}: does not fit {base} ({type(e).__name__}: {e})") from None
    return add_version(preset, model, training, metrics, store)
