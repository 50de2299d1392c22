"""Registry and store: names and versions, clear errors, publish into a local store, sha256
checks, the codec and task of every spec.

Every test that publishes runs against the ``local_store`` fixture (an empty ``$POSEZOO_HOME`` in
tmp), never the package store.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

import zoo
from zoo import registry, store
from zoo.tasks import BOTTOM_UP, TOP_DOWN

# hourglass-mpii's preset under a name no store publishes (tests/conftest.py): the tests of
# publishing and of an unpublished model do not depend on what the package ships.
pytestmark = pytest.mark.usefixtures("unpublished_preset")


@pytest.fixture(scope="module")
def trained_mpii_weights(tmp_path_factory, mpii_sample):
    """The hourglass-mpii preset after two optimizer steps on crops of the real MPII sample."""
    import keras

    from training.datasets import load_mpii_json
    from training.losses import intermediate_heatmap_mse
    from training.pipeline import training_dataset
    from zoo.codecs.heatmap import HeatmapCodec

    preset = registry.PRESETS["hourglass-mpii"]
    codec = HeatmapCodec(128, 32, 1.5)
    samples = load_mpii_json(mpii_sample)
    assert samples.skeleton == "mpii16" and len(samples) == 5
    keras.utils.set_random_seed(0)
    model = registry.build(preset)
    assert model.codec_config() == codec.to_dict()  # the codec the preset's model builds
    before = [w.copy() for w in model.get_weights()]
    ds = training_dataset(samples, codec, batch_size=2, cache=False, seed=0)
    images, heatmaps, weights = next(iter(ds))
    assert tuple(images.shape) == (2, 128, 128, 3) and tuple(heatmaps.shape) == (2, 32, 32, 16)
    assert float(np.asarray(weights).sum()) > 0  # real labelled joints inside the crops
    # Two eager optimizer steps (no graph tracing: faster on a small CPU), the loss weighted per
    # joint like Keras' sample_weight does in training.train.
    import tensorflow as tf

    optimizer = keras.optimizers.Adam(1e-3)
    losses = []
    for images, heatmaps, weights in ds.take(2):
        with tf.GradientTape() as tape:
            per_joint = intermediate_heatmap_mse(heatmaps, model(images, training=True))
            loss = tf.reduce_mean(per_joint * weights)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        losses.append(float(loss))
    assert len(losses) == 2 and np.isfinite(losses).all()
    after = model.get_weights()
    assert any(not np.array_equal(a, b) for a, b in zip(before, after)), "training changed nothing"
    path = tmp_path_factory.mktemp("weights") / "trained.weights.h5"
    model.save_weights(str(path))
    return path, after


def test_parse_name():
    assert registry.parse_name("hourglass-lsp@2") == ("hourglass-lsp", 2)
    assert registry.parse_name("hourglass-lsp") == ("hourglass-lsp", None)
    for bad in ("", "Hourglass-LSP", "hourglass-lsp@", "hourglass-lsp@x", "a b", None):
        with pytest.raises(zoo.ModelNotFoundError):
            registry.parse_name(bad)


def test_import_zoo_does_not_import_tensorflow():
    code = "import sys, zoo; zoo.list_models(); print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


def test_presets_listed(local_store, unpublished_preset):
    models = zoo.list_models()
    bases = {m.split("@")[0] for m in models}
    assert {"hourglass-lsp", "hourglass-unpublished"} <= bases
    assert unpublished_preset in models  # unpublished preset: bare name
    assert all("@" in m for m in zoo.list_models(published_only=True))
    assert unpublished_preset not in zoo.list_models(published_only=True)
    spec = zoo.get_spec(unpublished_preset)
    assert spec.skeleton == "mpii16" and spec.version is None and spec.weights is None
    assert spec.codec is None  # a preset's model builds its codec from its build arguments


def test_unknown_model_lists_known(local_store):
    with pytest.raises(zoo.ModelNotFoundError) as info:
        zoo.load("nopenet-lsp")
    msg = str(info.value)
    assert "nopenet-lsp" in msg and "hourglass-lsp" in msg and "hourglass-unpublished" in msg


def test_unknown_version_lists_versions(local_store):
    with pytest.raises(zoo.ModelNotFoundError) as info:
        zoo.get_spec("hourglass-lsp@99")
    msg = str(info.value)
    assert "hourglass-lsp@99" in msg and "published versions of hourglass-lsp" in msg


def test_unpublished_weights_error_says_how_to_publish(local_store, unpublished_preset):
    with pytest.raises(zoo.WeightsNotPublishedError) as info:
        zoo.load(unpublished_preset)
    msg = str(info.value)
    assert unpublished_preset in msg
    assert "training.train" in msg and "tools.publish" in msg and "hourglass_mpii" in msg
    assert "weights=None" in msg


def test_load_untrained_preset(local_store):
    model = zoo.load("hourglass-unpublished", weights=None)
    assert model.num_joints == 16 and model.skeleton.name == "mpii16"
    assert model.input_size == 128 and model.spec.name == "hourglass-unpublished"
    assert tuple(model(np.zeros((1, 128, 128, 3), np.uint8)).shape) == (1, 2, 32, 32, 16)


def test_load_missing_weights_path(local_store, tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.h5"):
        zoo.load("hourglass-unpublished", weights=tmp_path / "nothing.h5")


def test_publish_and_load(local_store, trained_mpii_weights):
    path, trained = trained_mpii_weights
    spec = zoo.publish("hourglass-unpublished", path, training={"data": "mpii-sample", "steps": 2},
                       metrics={"pckh@0.5": None})
    assert spec.version == 1 and spec.id == "hourglass-unpublished@1"
    folder_ = store.published_versions("hourglass-unpublished")[1]
    # the stored file is re-saved from the model (no optimizer state) and its hash is recorded
    assert spec.weights.sha256 == store.sha256_file(folder_ / store.WEIGHTS_FILE)
    folder = local_store / "hourglass-unpublished" / "1"
    assert (folder / store.SPEC_FILE).is_file() and (folder / store.WEIGHTS_FILE).is_file()
    assert sorted(p.name for p in folder.iterdir()) == [store.SPEC_FILE, store.WEIGHTS_FILE]  # no card
    on_disk = json.loads((folder / store.SPEC_FILE).read_text())
    assert on_disk["weights"]["training"]["data"] == "mpii-sample" and on_disk["weights"]["training"]["steps"] == 2
    assert on_disk["weights"]["training"]["weights_bytes"] == (folder_ / store.WEIGHTS_FILE).stat().st_size
    # the codec recorded is the built model's own
    assert on_disk["skeleton"] == "mpii16" and on_disk["codec"] == registry.build(spec).codec_config()
    assert on_disk["codec"]["sigma"] == 1.5

    assert "hourglass-unpublished@1" in zoo.list_models()
    assert "hourglass-unpublished" not in zoo.list_models()
    assert "hourglass-unpublished@1" in zoo.list_models(published_only=True)
    assert zoo.get_spec("hourglass-unpublished@1") == spec
    assert zoo.get_spec("hourglass-unpublished") == spec

    model = zoo.load("hourglass-unpublished")
    loaded = model.get_weights()
    assert len(loaded) == len(trained)
    for a, b in zip(loaded, trained):
        np.testing.assert_array_equal(a, b)
    assert model.spec.id == "hourglass-unpublished@1" and model.num_joints == 16

    with pytest.raises(zoo.ModelNotFoundError) as info:
        zoo.get_spec("hourglass-unpublished@99")
    assert "hourglass-unpublished@1" in str(info.value)

    # Publishing again never overwrites: it makes version 2, the new default.
    spec2 = zoo.publish("hourglass-unpublished", path, training={}, metrics={})
    assert spec2.version == 2
    assert zoo.get_spec("hourglass-unpublished").version == 2
    assert zoo.get_spec("hourglass-unpublished@1") == spec
    assert zoo.list_models(published_only=True).count("hourglass-unpublished@1") == 1


def test_publish_rejects_bad_input(local_store, tmp_path, trained_mpii_weights):
    path, _ = trained_mpii_weights
    with pytest.raises(ValueError, match="bare name"):
        zoo.publish("hourglass-unpublished@3", path, training={}, metrics={})
    with pytest.raises(zoo.ModelNotFoundError, match="hourglass-lsp"):
        zoo.publish("nopenet-lsp", path, training={}, metrics={})
    with pytest.raises(FileNotFoundError):
        zoo.publish("hourglass-unpublished", tmp_path / "missing.h5", training={}, metrics={})
    # Weights of another architecture size do not fit the preset: nothing gets published.
    from zoo.architectures.hourglass import StackedHourglass

    tiny = StackedHourglass(num_stacks=1, filters=8, depth=1, input_size=16, skeleton="mpii16")
    tiny.build((None, 16, 16, 3))
    wrong = tmp_path / "tiny.weights.h5"
    tiny.save_weights(str(wrong))
    with pytest.raises(ValueError, match="tiny.weights.h5"):
        zoo.publish("hourglass-unpublished", wrong, training={}, metrics={})
    assert store.published_versions("hourglass-unpublished") == {}
    assert "hourglass-unpublished" in zoo.list_models()


def test_card_and_measurements_are_written_after_publishing(local_store, trained_mpii_weights):
    from zoo.model_card import record_measurement, write_model_card

    path, _ = trained_mpii_weights
    spec = zoo.publish("hourglass-unpublished", path, training={"data": "mpii-sample", "steps": (1, 2)}, metrics={})
    # The spec returned is the stored one (JSON lists, not the caller's tuples): the card written
    # now is the card tools.model_card writes later from model.json.
    assert spec == zoo.get_spec("hourglass-unpublished@1") and spec.weights.training["steps"] == [1, 2]
    card = write_model_card(spec)
    assert card == local_store / "hourglass-unpublished" / "1" / "MODEL_CARD.md"
    assert card.read_text().startswith("# hourglass-unpublished@1\n") and "single-person" in card.read_text()
    report = {"header": {"machine": "test machine"}, "rows": []}
    stored = record_measurement(spec, "benchmark", report)
    assert stored == local_store / "hourglass-unpublished" / "1" / store.MEASUREMENTS_DIR / "benchmark.json"
    assert store.measurements(spec) == {"benchmark": report}
    assert "## Latency (test machine)" in card.read_text()  # the card was regenerated


def test_sha256_mismatch_refuses_to_load(local_store, trained_mpii_weights, monkeypatch):
    path, _ = trained_mpii_weights
    zoo.publish("hourglass-unpublished", path, training={}, metrics={})
    stored = local_store / "hourglass-unpublished" / "1" / store.WEIGHTS_FILE
    data = bytearray(stored.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte
    stored.write_bytes(bytes(data))

    built = []
    real_build = registry.build
    monkeypatch.setattr(registry, "build", lambda spec: built.append(spec) or real_build(spec))
    with pytest.raises(zoo.WeightsIntegrityError) as info:
        zoo.load("hourglass-unpublished")
    msg = str(info.value)
    assert "sha256" in msg and str(stored) in msg and "hourglass-unpublished@1" in msg
    assert built == [], "no model may be built or loaded from a damaged file"

    stored.unlink()
    with pytest.raises(zoo.WeightsIntegrityError, match="missing"):
        zoo.load("hourglass-unpublished@1")
    assert built == []


def test_task_of_presets():
    assert registry.task_of(registry.PRESETS["openpose-lsp"]) is BOTTOM_UP
    for name in ("hourglass-lsp", "hourglass-unpublished", "cpm-lsp", "deeppose-lsp", "tompson-lsp"):
        assert registry.task_of(registry.PRESETS[name]) is TOP_DOWN, name


PUBLISHED = [f"{name}@{v}" for name in registry.known_names()
             for v, folder in store.published_versions(name).items() if folder.parent.parent == store.PACKAGE_STORE]


@pytest.mark.parametrize("model_id", PUBLISHED)
def test_published_codec_is_the_built_models(model_id):
    """The codec recorded in a published ``model.json`` is the one its model builds from its
    build arguments (the recorded dict may add descriptions), and the task matches."""
    spec = zoo.get_spec(model_id)
    model = registry.build(spec)
    built = model.codec_config()
    shared = set(built) & set(spec.codec)
    assert {"type", "input_size"} <= shared
    assert {k: built[k] for k in shared} == {k: spec.codec[k] for k in shared}
    assert model.task is registry.task_of(spec)


def test_load_with_test_time_options(local_store):
    """``zoo.load(..., flip_test=..., subpixel=...)`` builds the same weights with the options,
    overriding the preset's either way (hourglass-mpii's preset has the flip test and DARK)."""
    preset = zoo.load("hourglass-unpublished", weights=None)
    plain = zoo.load("hourglass-unpublished", weights=None, flip_test=False, subpixel="quarter")
    model = zoo.load("hourglass-unpublished", weights=None, flip_test=True, subpixel="dark")
    assert preset.flip_test and preset.decoder.subpixel == "dark"
    assert model.flip_test and model.decoder.subpixel == "dark"
    assert not plain.flip_test and plain.decoder.subpixel == "quarter"
    assert [w.shape for w in model.get_weights()] == [w.shape for w in plain.get_weights()]


def test_unknown_or_misplaced_test_time_option_is_a_clear_error(local_store):
    with pytest.raises(ValueError, match="unknown option 'flip'.*flip_test"):
        zoo.load("hourglass-unpublished", weights=None, flip=True)
    with pytest.raises(ValueError, match="deeppose-lsp.*heatmap models"):
        zoo.load("deeppose-lsp", weights=None, flip_test=True)


def test_most_accurate_is_the_best_published_validation_pck(local_store):
    best = zoo.most_accurate("lsp14")
    pck = {m: zoo.get_spec(m).weights.metrics["pck@0.2"]["mean_limbs"]
           for m in zoo.list_models(published_only=True)
           if zoo.get_spec(m).skeleton == "lsp14" and registry.task_of(zoo.get_spec(m)) is TOP_DOWN}
    assert len(pck) >= 4 and pck[best] == max(pck.values())
    # Without a skeleton: a version measured on everyday photos ranks above every one that was not.
    everyday = {m: registry._ranking(zoo.get_spec(m)) for m in zoo.list_models(published_only=True)
                if registry.task_of(zoo.get_spec(m)) is TOP_DOWN}
    assert registry._ranking(zoo.get_spec(zoo.most_accurate())) == max(r for r in everyday.values() if r)
    assert "COCO photos" in registry.RANKING_METRIC and "MPII" in registry.RANKING_METRIC


def test_a_version_measured_on_everyday_photos_outranks_a_higher_own_figure():
    from zoo.specs import ModelSpec, WeightsSpec

    def spec(metrics):
        return ModelSpec(name="x", architecture="simplebaseline", model_args={}, skeleton="coco17", input_size=256,
                         normalisation={}, paper="", experiment="",
                         weights=WeightsSpec(file="w", sha256="0", training={}, metrics=metrics))

    def sets(coco, mpii):
        return {"coco_people": {"num_images": 60, "pck@0.2": {"mean_limbs": coco}},
                "mpii_subset": {"num_images": 180, "pck@0.2": {"mean_limbs": mpii}}}

    lsp_only = spec({"pck@0.2": {"mean_limbs": 0.9}})
    everyday = spec({"pck@0.2": {"mean_limbs": 0.5}, "validation_sets": sets(0.6, 0.7)})
    assert registry._ranking(everyday) > registry._ranking(lsp_only)
    assert registry._ranking(everyday)[1] == pytest.approx((60 * 0.6 + 180 * 0.7) / 240)
    # Better on the small COCO set but worse on the larger MPII one: ranked below.
    assert registry._ranking(spec({"validation_sets": sets(0.66, 0.64)})) < registry._ranking(everyday)
    assert registry._ranking(spec({})) is None
    with pytest.raises(zoo.ModelNotFoundError, match="no published single-person flic11 model"):
        zoo.most_accurate("flic11")


def test_a_weights_file_loads_into_the_current_recipe_unless_a_version_is_named():
    """tools.publish / tools.evaluate --weights score a new run's file: a bare name builds the
    preset (which trained it), not the newest published version, whose build may be older
    (simplebaseline-lsp@1 is 192 px, the preset 256 px)."""
    from zoo.registry import PRESETS, weights_path

    newest = str(weights_path(registry.get_spec("simplebaseline-lsp@3")))
    model = zoo.load("simplebaseline-lsp", weights=newest)
    assert model.input_size == PRESETS["simplebaseline-lsp"].input_size == 256
    assert model.head_filters == PRESETS["simplebaseline-lsp"].model_args["head_filters"] == 64
    first = str(weights_path(registry.get_spec("simplebaseline-lsp@1")))
    assert zoo.load("simplebaseline-lsp@1", weights=first).input_size == 192
