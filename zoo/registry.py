"""Model registry: typed specs, architecture presets, published versions, ``name@version``.

A *preset* (``PRESETS``) says how to build a model: architecture, build arguments, skeleton, input
size, normalisation and codec. A *published version* adds trained weights: a folder
``<store>/<name>/<version>/`` holding ``model.json`` (the full ``ModelSpec`` with sha256, training
recipe and measured metrics) and ``model.weights.h5``. Two stores are searched: the one shipped
inside the package (``zoo/published``) and a local one (``$POSEZOO_HOME``, default
``~/.posezoo``) that ``zoo.publish`` writes. Published versions never change: publishing always
creates the next number.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Tuple

PACKAGE_STORE = Path(__file__).resolve().parent / "published"
HOME_ENV = "POSEZOO_HOME"
SPEC_FILE = "model.json"
WEIGHTS_FILE = "model.weights.h5"


class ModelNotFoundError(KeyError):
    """Unknown model name or version; the message lists what exists."""

    def __str__(self):
        return str(self.args[0])


class WeightsNotPublishedError(LookupError):
    """The preset exists but no trained weights are published for it."""


class WeightsIntegrityError(ValueError):
    """A weights file does not match the sha256 recorded in its spec."""


@dataclasses.dataclass(frozen=True)
class WeightsSpec:
    """Trained weights of one published version.

    Args:
        file: weights file name inside the version folder.
        sha256: hex digest of the file, checked before loading.
        training: how they were trained (data, split, recipe, epochs, hardware, time).
        metrics: measured results (e.g. PCK on the validation split).
    """

    file: str
    sha256: str
    training: Dict = dataclasses.field(default_factory=dict)
    metrics: Dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """Everything needed to build, feed and decode a zoo model.

    Args:
        name: published name ``{arch}-{dataset}``.
        architecture: architecture name (``zoo.architectures``).
        model_args: build arguments of the architecture (include skeleton and input size).
        skeleton: skeleton name.
        input_size: side of the square uint8 RGB input.
        normalisation: how the model normalises pixels (done inside the model).
        codec: target codec parameters.
        paper: reference of the architecture.
        experiment: training recipe name (``python -m training.train <experiment>``).
        version: published version (None for an unpublished preset).
        weights: the trained weights (None for an unpublished preset).
    """

    name: str
    architecture: str
    model_args: Dict
    skeleton: str
    input_size: int
    normalisation: Dict
    codec: Dict
    paper: str
    experiment: str
    version: Optional[int] = None
    weights: Optional[WeightsSpec] = None

    @property
    def id(self) -> str:
        return f"{self.name}@{self.version}" if self.version is not None else self.name

    def to_dict(self) -> Dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Dict) -> "ModelSpec":
        d = dict(d)
        if d.get("weights") is not None:
            d["weights"] = WeightsSpec(**d["weights"])
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = set(d) - fields
        if unknown:
            raise ValueError(f"unknown ModelSpec fields {sorted(unknown)}")
        return cls(**d)


_NORMALISATION = {"input": "uint8 RGB, 0..255", "inside_model": "(x / 255 - mean) / std",
                  "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
_HOURGLASS_PAPER = "Newell, Yang, Deng. Stacked Hourglass Networks for Human Pose Estimation. ECCV 2016. https://arxiv.org/abs/1603.06937"


def _hourglass_preset(name: str, skeleton: str, experiment: str) -> ModelSpec:
    args = dict(num_stacks=2, filters=128, depth=4, input_size=128, skeleton=skeleton)
    return ModelSpec(name=name, architecture="hourglass", model_args=args, skeleton=skeleton,
                     input_size=128, normalisation=_NORMALISATION,
                     codec={"type": "heatmap", "input_size": 128, "heatmap_size": 32, "sigma": 1.5},
                     paper=_HOURGLASS_PAPER, experiment=experiment)


_CPM_PAPER = ("Wei, Ramakrishna, Kanade, Sheikh. Convolutional Pose Machines. CVPR 2016. "
              "https://arxiv.org/abs/1602.00134")
_DEEPPOSE_PAPER = ("Toshev, Szegedy. DeepPose: Human Pose Estimation via Deep Neural Networks. CVPR 2014. "
                   "https://arxiv.org/abs/1312.4659")
_TOMPSON_PAPER = ("Tompson, Jain, LeCun, Bregler. Joint Training of a Convolutional Network and a Graphical "
                  "Model for Human Pose Estimation. NIPS 2014. https://arxiv.org/abs/1406.2984 "
                  "(with BatchNorm in the part detector)")

# Build arguments of the published presets, defined once: the training recipes
# (training.experiments) import them.
CPM_LSP_ARGS = dict(num_stages=3, feature_filters=(32, 48, 96), stage_filters=48, kernel_size=7, decoder_blur=1.0,
                    input_size=128, skeleton="lsp14")
DEEPPOSE_LSP_ARGS = dict(num_stages=2, filters=(32, 64, 96, 128, 128), units=256, patch_size=32,
                         patch_filters=(32, 64, 96), patch_units=256, sigma=2.5, min_patch=0.3, dropout=0.3,
                         input_size=128, skeleton="lsp14")
# Messages on a 16x16 grid (message_stride=2, 31x31 kernels): see the tompson-lsp card's cost table.
# initial_message_bias 1.0: chosen on 400 training crops with the histogram kernels on the trained
# detector (refined PCK@0.2 28.7, 32.8, 36.1, 37.7, 38.7, 39.4 % for 0.03, 0.1, 0.2, 0.3, 0.5, 1.0,
# against 40.3 % for the detector alone); the paper's formula with a small bias lets 13 broad
# priors overrule this detector's evidence.
TOMPSON_LSP_ARGS = dict(bank_filters=(32, 32, 64), num_scales=3, head_filters=64, head_kernel=9, spatial="full",
                        spatial_root=12, message_stride=2, initial_message_bias=1.0, positive="relu",
                        input_size=128, skeleton="lsp14")

_OPENPOSE_PAPER = ("Cao, Hidalgo, Simon, Wei, Sheikh. OpenPose: Realtime Multi-Person 2D Pose Estimation using "
                   "Part Affinity Fields. TPAMI 2019. https://arxiv.org/abs/1812.08008 (backbone: a small "
                   "VGG-style conv-BN-ReLU stack trained from scratch)")
OPENPOSE_LSP_ARGS = dict(backbone_filters=(16, 32, 64), stage_filters=64, stage_convs=3, paf_stages=2,
                         heatmap_stages=1, upsample=2, max_people=10, max_candidates=10, input_size=256,
                         skeleton="lsp14")

PRESETS: Dict[str, ModelSpec] = {
    p.name: p for p in (
        _hourglass_preset("hourglass-lsp", "lsp14", "hourglass_lsp"),
        _hourglass_preset("hourglass-mpii", "mpii16", "hourglass_mpii"),
        ModelSpec(name="cpm-lsp", architecture="cpm", model_args=CPM_LSP_ARGS, skeleton="lsp14",
                  input_size=128, normalisation=_NORMALISATION,
                  codec={"type": "heatmap", "input_size": 128, "heatmap_size": 32, "sigma": 1.5,
                         "background_map": "1 - max over joints"},
                  paper=_CPM_PAPER, experiment="cpm_lsp"),
        ModelSpec(name="deeppose-lsp", architecture="deeppose", model_args=DEEPPOSE_LSP_ARGS,
                  skeleton="lsp14", input_size=128, normalisation=_NORMALISATION,
                  codec={"type": "regression", "input_size": 128,
                         "normalised": "(xy - (input_size - 1) / 2) / input_size"},
                  paper=_DEEPPOSE_PAPER, experiment="deeppose_lsp"),
        ModelSpec(name="tompson-lsp", architecture="tompson", model_args=TOMPSON_LSP_ARGS, skeleton="lsp14",
                  input_size=128, normalisation=_NORMALISATION,
                  codec={"type": "heatmap", "input_size": 128, "heatmap_size": 32, "sigma": 1.5,
                         "decoded_map": "the spatial model's marginals rescaled to peak 1"},
                  paper=_TOMPSON_PAPER, experiment="tompson_lsp"),
        ModelSpec(name="openpose-lsp", architecture="openpose", model_args=OPENPOSE_LSP_ARGS, skeleton="lsp14",
                  input_size=256, normalisation=_NORMALISATION,
                  codec={"type": "paf", "input_size": 256, "stride": 8, "sigma": 1.0, "limb_width": 1.0,
                         "input": "the whole image, letterboxed (zoo.preprocess.letterbox)"},
                  paper=_OPENPOSE_PAPER, experiment="openpose_lsp"),
    )
}


def local_store() -> Path:
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".posezoo")


def stores() -> List[Path]:
    return [PACKAGE_STORE, local_store()]


def parse_name(name: str) -> Tuple[str, Optional[int]]:
    """``"hourglass-lsp@2"`` -> ``("hourglass-lsp", 2)``; bare name -> version None."""
    if not isinstance(name, str) or not name:
        raise ModelNotFoundError(f"model name must be a non-empty string, got {name!r}")
    m = re.fullmatch(r"([a-z0-9][a-z0-9_\-]*)(?:@(\d+))?", name.strip())
    if not m:
        raise ModelNotFoundError(
            f"malformed model name {name!r}: expected 'name' or 'name@N', e.g. 'hourglass-lsp@1'")
    return m.group(1), (int(m.group(2)) if m.group(2) else None)


def published_versions(name: str) -> Dict[int, Path]:
    """Version -> folder of every published version of ``name`` (package store first)."""
    found: Dict[int, Path] = {}
    for store in stores():
        d = store / name
        if not d.is_dir():
            continue
        for v in d.iterdir():
            if v.name.isdigit() and (v / SPEC_FILE).is_file():
                found.setdefault(int(v.name), v)
    return dict(sorted(found.items()))


def known_names() -> List[str]:
    names = set(PRESETS)
    for store in stores():
        if store.is_dir():
            names.update(p.name for p in store.iterdir() if p.is_dir() and published_versions(p.name))
    return sorted(names)


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


def read_spec(folder: Path) -> ModelSpec:
    path = Path(folder) / SPEC_FILE
    try:
        return ModelSpec.from_dict(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError) as e:
        raise ValueError(f"{path}: unreadable model spec ({e})") from None


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


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


def build(spec: ModelSpec):
    """Builds the (untrained) Keras model of ``spec``."""
    from zoo.architectures import get_architecture

    model = get_architecture(spec.architecture)(**spec.model_args)
    model.build((None, spec.input_size, spec.input_size, 3))
    model.spec = spec
    return model


def load(name: str, weights: Optional[str] = "published"):
    """Returns the Keras model ``name`` (``"hourglass-lsp"`` or ``"hourglass-lsp@1"``).

    Args:
        name: model name, optionally ``@version`` (bare name = newest published version).
        weights: ``"published"`` (default) loads the verified published weights; ``None`` builds
            the architecture untrained; a path loads that weights file.

    The model has ``predict_keypoints(images)``: uint8 RGB ``(N, S, S, 3)`` ->
    ``(keypoints (N, K, 2) input pixels, scores (N, K))``, joints in ``model.skeleton`` order.
    """
    spec = get_spec(name)
    if weights == "published":
        path = weights_path(spec)
    elif weights is None:
        path = None
    else:
        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {path}")
    model = build(spec)
    if path is not None:
        try:
            model.load_weights(str(path))
        except Exception as e:
            raise ValueError(f"{path}: cannot load weights into {spec.id} ({type(e).__name__}: {e})") from None
    return model


def publish(name: str, weights_file, training: Dict, metrics: Dict, store: Optional[Path] = None,
            card: bool = True) -> ModelSpec:
    """Publishes trained weights of preset ``name`` as its next version in ``store``.

    Loads the weights into the preset's architecture first (so a wrong file fails here), saves
    the model's variables (no optimizer state) atomically, writes ``model.json`` (sha256, training, metrics) and, with ``card``, the
    model card. Returns the published spec. ``store`` defaults to the local store.
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
    store = Path(store) if store else local_store()
    existing = published_versions(base)
    version = max(existing, default=0) + 1
    folder = store / base / str(version)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{version}.", dir=folder.parent))
    try:
        os.chmod(tmp, 0o755)
        # Re-saved from the freshly built model: model variables only (no optimizer state).
        model.save_weights(str(tmp / WEIGHTS_FILE))
        training = {**training, "weights_bytes": (tmp / WEIGHTS_FILE).stat().st_size}
        spec = dataclasses.replace(preset, version=version, weights=WeightsSpec(
            file=WEIGHTS_FILE, sha256=sha256_file(tmp / WEIGHTS_FILE), training=training, metrics=metrics))
        (tmp / SPEC_FILE).write_text(json.dumps(spec.to_dict(), indent=2) + "\n")
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    if card:
        from zoo.model_card import write_model_card

        write_model_card(spec)
    return spec
