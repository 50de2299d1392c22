"""Ablation rows (training/ablation.py), the far-detection count, and the spatial model's
TensorBoard images, on hand-made poses and a tiny Tompson model with fixture images; the ablation
on every validation set (``--sets everyday``: report, card table, command) with a tiny two-stack
COCO-17 hourglass on the first people of the real validation sets."""

import glob

import numpy as np
import pytest

from training.ablation import Variant, evaluate_variant
from training.metrics import far_detections
from zoo.skeletons import get_skeleton

LSP = get_skeleton("lsp14")
J = {n: i for i, n in enumerate(LSP.joint_names)}


def test_far_detections_hand_computed():
    gt = np.zeros((3, 14, 2))
    vis = np.ones((3, 14))
    err = np.zeros((3, 14, 2))
    gt[0, J["right_hip"]] = (60, 80)        # torso 100: far beyond 50 px
    err[0, J["right_ankle"]] = (36, 48)     # 60 px: far
    err[0, J["left_wrist"]] = (30, 40)      # 50 px: not beyond
    gt[1, J["right_hip"]] = (30, 40)        # torso 50: far beyond 25 px
    err[1, J["left_elbow"]] = (0, 30)       # 30 px: far
    err[1, J["left_ankle"]] = (500, 0)      # unlabelled: not counted
    vis[1, J["left_ankle"]] = 0
    vis[2, J["left_shoulder"]] = vis[2, J["right_shoulder"]] = 0  # no torso: skipped
    err[2] = 1000.0
    r = far_detections(gt + err, gt, vis, LSP, factor=0.5)
    assert r["total"] == 2 and r["joints"] == 27 and r["factor"] == 0.5
    assert r["per_joint"]["right_ankle"] == 1 and r["per_joint"]["left_elbow"] == 1
    assert sum(r["per_joint"].values()) == 2
    with pytest.raises(ValueError, match="shape mismatch"):
        far_detections(gt[:, :3], gt, vis, LSP)


def test_variant_parsing():
    v = Variant.parse("+ joint training=tompson_lsp:runs/a b/final.weights.h5:2")
    assert v == Variant("+ joint training", "tompson_lsp", "runs/a b/final.weights.h5", 2)
    for bad in ("no-label", "=x:y:1", "a=tompson_lsp:w.h5", "a=tompson_lsp:w.h5:two", "a=w.h5:1"):
        with pytest.raises(ValueError, match="label=experiment"):
            Variant.parse(bad)


SMALL = dict(bank_filters=(4, 4, 8), num_scales=3, head_filters=8, head_kernel=3, input_size=32,
             skeleton="lsp14", message_stride=2)


@pytest.fixture(scope="module")
def fixture_samples(tmp_path_factory):
    """Six 64x48 JPEGs with random joints (a fixture, not data)."""
    import cv2

    from training.datasets.base import PoseSamples

    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(6):
        path = str(folder / f"im{i}.jpg")
        cv2.imwrite(path, rng.integers(0, 256, (64, 48, 3)).astype(np.uint8))
        paths.append(path)
    kp = rng.uniform(8, 40, (6, 14, 2)).astype("float32")
    return PoseSamples(paths, kp, np.ones((6, 14), "float32"), "lsp14", [f"im{i}" for i in range(6)])


@pytest.fixture(scope="module")
def tiny_tompson():
    from zoo.architectures.tompson import TompsonPoseModel
    from zoo.layers.spatial_model import displacement_histograms

    model = TompsonPoseModel(**SMALL)
    model.build()
    rng = np.random.default_rng(1)
    sm = model.spatial_model
    model.spatial_model.initialise_from_histograms(displacement_histograms(
        rng.uniform(0, sm.message_size - 1, (50, 14, 2)), np.ones((50, 14)), sm.message_size))
    return model


def test_each_variant_reads_its_own_stage(tiny_tompson, fixture_samples, tmp_path, monkeypatch):
    import training.experiments
    from training.experiments.base import Experiment
    from training.pck_evaluation import evaluate

    exp = Experiment(name="tiny_tompson", architecture="tompson", model_args=SMALL)
    monkeypatch.setattr(training.experiments, "get_experiment", lambda name: exp)
    weights = str(tmp_path / "tiny.weights.h5")
    tiny_tompson.save_weights(weights)
    reference = evaluate(tiny_tompson, fixture_samples)["stages"]
    for stage in (1, 2):
        row = evaluate_variant(Variant(f"s{stage}", "tiny_tompson", weights, stage), fixture_samples)
        assert row["stage"] == stage and row["weights"] == weights and len(row["weights_sha256"]) == 64
        assert row["pck@0.2"]["mean"] == pytest.approx(reference[stage - 1]["pck@0.2"])
        assert 0 <= row["far"]["total"] <= row["far"]["joints"] == 84
    with pytest.raises(ValueError, match="stage 3 not in 1..2"):
        evaluate_variant(Variant("x", "tiny_tompson", weights, 3), fixture_samples)
    with pytest.raises(FileNotFoundError, match="no weights file"):
        evaluate_variant(Variant("x", "tiny_tompson", str(tmp_path / "missing.h5"), 1), fixture_samples)


def test_spatial_model_images_in_tensorboard(tiny_tompson, fixture_samples, tmp_path):
    import tensorflow as tf

    from training.callbacks import SpatialModelImages
    from training.tensorboard_images import CAPTION, TILE

    tiny_tompson.compile(optimizer="sgd")  # callbacks run inside fit, on a compiled model
    cb = SpatialModelImages(fixture_samples, str(tmp_path), num_images=2)
    cb.set_model(tiny_tompson)
    cb.on_epoch_begin(0)  # the initialisation, at step 0 of a run of its own
    cb.on_epoch_end(0)
    seen = {}
    for f in glob.glob(str(tmp_path / "events*")):
        for e in tf.compat.v1.train.summary_iterator(f):
            for v in e.summary.value:
                seen.setdefault(v.tag, set()).add(e.step)
                if v.tag == "model/pairwise_kernels":
                    image = tf.io.decode_png(tf.make_ndarray(v.tensor)[2]).numpy()
    assert seen == {"model/pairwise_kernels": {0, 1}, "val/unary_vs_refined/left_wrist": {0, 1},
                    "val/unary_vs_refined/right_ankle": {0, 1}}
    # One captioned TILE-pixel tile per pair, COLUMNS per row, grey gaps of 4 px between tiles.
    rows = -(-len(SpatialModelImages.PAIRS) // SpatialModelImages.COLUMNS)
    # Captions grow with the grid's width (training.tensorboard_images.image_grid): at least CAPTION high.
    bar = (image.shape[0] + 4) / rows - 4 - TILE
    assert bar == int(bar) and bar >= CAPTION, image.shape
    assert image.shape[1:] == (SpatialModelImages.COLUMNS * (TILE + 4) - 4, 3)


# --- Every validation set (run_sets_ablation, tools.ablation --sets everyday) --------------------

TEACHER_RECIPES = ("simplebaseline_coco_no_teacher", "simplebaseline_coco_teacher_fill",
                   "simplebaseline_coco_teacher_soft")
TINY_COCO = dict(num_stacks=2, filters=16, depth=2, input_size=32, skeleton="coco17")
PEOPLE_PER_SET = 6  # the first people of each set keep the tests fast; --record scores whole sets


def test_the_teacher_variants_are_described_by_the_recipe_field_they_differ_in():
    from training.ablation import describe_variants
    from training.experiments import get_experiment

    variants = [Variant(name, name, f"runs/{name}/final.weights.h5", 1) for name in TEACHER_RECIPES]
    shared, statements = describe_variants(variants, [get_experiment(n) for n in TEACHER_RECIPES])
    assert "starts from simplebaseline-coco@1" in shared and "3 epochs" in shared
    assert "coco_people (weight 0.3) + mpii_subset (weight 0.4) + lspet (weight 0.3)" in shared
    assert "teacher" not in shared
    none, fill, soft = statements
    assert none == "no teacher"
    assert "the joints a dataset does not label take the teacher's" in fill and "soft" not in fill
    assert fill in soft and "soft targets" in soft and "0.5 x each dataset's weight" in soft


@pytest.fixture(scope="module")
def tiny_coco_variants(tmp_path_factory):
    """Two weights files of a tiny two-stack COCO-17 hourglass (recipe ``tiny_coco_a``, and
    ``tiny_coco_b`` with the teacher's fill), as ``(experiments by name, weights paths, model)``."""
    import keras

    from training.experiments.base import Experiment
    from training.loop import build_model

    keras.utils.set_random_seed(3)
    a = Experiment(name="tiny_coco_a", architecture="hourglass", model_args=TINY_COCO)
    experiments = {"tiny_coco_a": a, "tiny_coco_b": a.replace(name="tiny_coco_b", teacher=("fill",))}
    folder = tmp_path_factory.mktemp("tiny_coco")
    paths = []
    for i in range(2):
        model = build_model(a)
        for head in model.heads:  # distinct maxima, so each weights file predicts its own joints
            head.kernel.assign(np.random.default_rng(i).normal(0, 0.2, head.kernel.shape).astype("float32"))
        paths.append(str(folder / f"w{i}.weights.h5"))
        model.save_weights(paths[-1])
    return experiments, paths, model


@pytest.fixture()
def tiny_recipes(tiny_coco_variants, monkeypatch):
    import training.experiments

    experiments = tiny_coco_variants[0]

    def get_experiment(name):
        if name not in experiments:
            raise ValueError(f"unknown experiment {name!r}")
        return experiments[name]

    monkeypatch.setattr(training.experiments, "get_experiment", get_experiment)
    return tiny_coco_variants


def test_every_validation_set_scores_each_variant_as_evaluate_does(tiny_recipes, shared_data):
    from training.ablation import run_sets_ablation
    from training.everyday_sets import EVERYDAY_SETS, everyday_samples
    from training.pck_evaluation import evaluate

    _, (w0, w1), model = tiny_recipes
    variants = [Variant("plain, stage 1", "tiny_coco_a", w1, 1), Variant("plain", "tiny_coco_a", w1, 2),
                Variant("fill", "tiny_coco_b", w0, 2)]
    report = run_sets_ablation(variants, limit=PEOPLE_PER_SET)
    assert list(report["sets"]) == list(EVERYDAY_SETS) == ["coco_people", "mpii_subset", "lspet"]
    assert {n: (s["skeleton"], s["metric"], s["num_images"]) for n, s in report["sets"].items()} == {
        "coco_people": ("coco17", "pck@0.2", PEOPLE_PER_SET), "mpii_subset": ("mpii16", "pckh@0.5", PEOPLE_PER_SET),
        "lspet": ("lsp14", "pck@0.2", PEOPLE_PER_SET)}
    assert [r["description"] for r in report["rows"]] == [
        "no teacher; stage 1 output", "no teacher; stage 2 output",
        "teacher (joints scored >= 0.3): the joints a dataset does not label take the teacher's "
        "(weighted by its score); stage 2 output"]
    assert "architecture hourglass" in report["recipe"] and report["limit"] == PEOPLE_PER_SET
    assert [(r["weights"], r["stage"]) for r in report["rows"]] == [(w1, 1), (w1, 2), (w0, 2)]
    assert report["rows"][0]["weights_sha256"] != report["rows"][2]["weights_sha256"]
    sets = everyday_samples(limit=PEOPLE_PER_SET)
    for row, weights, stage in ((report["rows"][0], w1, 1), (report["rows"][2], w0, 2)):
        model.load_weights(weights)  # the same figures as evaluate() on the same people and stage
        for name, samples in sets.items():
            expected, got = evaluate(model, samples, stage=stage), row["sets"][name]
            assert set(got) == ({"pck@0.2", "pck@0.1", "pckh@0.5"} if name == "mpii_subset" else {"pck@0.2", "pck@0.1"})
            for key in got:
                assert got[key]["mean_limbs"] == pytest.approx(expected[key]["mean_limbs"], nan_ok=True)
                assert got[key]["per_joint"] == pytest.approx(expected[key]["per_joint"], nan_ok=True)


def test_a_stage_the_model_lacks_and_a_missing_file_are_named(tiny_recipes, shared_data, tmp_path):
    from training.ablation import run_sets_ablation

    _, (w0, _), _ = tiny_recipes
    with pytest.raises(ValueError, match=r"variant 'x': stage 3 not in 1..2"):
        run_sets_ablation([Variant("x", "tiny_coco_a", w0, 3)], limit=2)
    with pytest.raises(ValueError, match=r"variant 'x': stage 0 is not a stage \(1-based\)"):
        run_sets_ablation([Variant("x", "tiny_coco_a", w0, 0)], limit=2)
    with pytest.raises(FileNotFoundError, match="no weights file"):
        run_sets_ablation([Variant("x", "tiny_coco_a", str(tmp_path / "missing.h5"), 1)], limit=2)
    with pytest.raises(ValueError, match="unknown experiment 'nope'"):  # before any scoring
        run_sets_ablation([Variant("x", "tiny_coco_a", w0, 1), Variant("y", "nope", w0, 1)], limit=2)


def test_the_command_prints_writes_and_the_card_renders_one_column_per_set(tiny_recipes, shared_data, tmp_path,
                                                                          capsys):
    import json

    import zoo
    from tools.ablation import main
    from zoo.card_measurements import _ablation_section

    _, (w0, w1), _ = tiny_recipes
    out = tmp_path / "ablation.json"
    assert main(["simplebaseline-coco", "--sets", "everyday", "--max-val", "4", "--output", str(out),
                 "--variant", f"no teacher=tiny_coco_a:{w0}:2", "--variant", f"teacher fill=tiny_coco_b:{w1}:2"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in printed] == ["no teacher", "teacher fill"]
    assert "MPII subset limb PCKh@0.5" in printed[0] and "(4 people)" in printed[0]
    report = json.loads(out.read_text())
    assert [r["label"] for r in report["rows"]] == ["no teacher", "teacher fill"]

    spec = zoo.get_spec("simplebaseline-coco")
    lines = _ablation_section(spec, report)
    header = next(line for line in lines if line.startswith("| variant | what it is |"))
    assert header == ("| variant | what it is | COCO photos (4 people) PCK@0.2 | MPII subset (4 people) PCKh@0.5 "
                      "| LSPet (4 people) PCK@0.2 |")
    rows = [line for line in lines if line.startswith("| no teacher |") or line.startswith("| teacher fill |")]
    assert len(rows) == 4  # the limb table and the all-joints table
    r = report["rows"][1]
    limbs = [r["sets"][n][m]["mean_limbs"] for n, m in
             (("coco_people", "pck@0.2"), ("mpii_subset", "pckh@0.5"), ("lspet", "pck@0.2"))]
    assert rows[1] == (f"| teacher fill | {r['description']} | "
                       + " | ".join(f"{100 * v:.1f}" for v in limbs) + " |")
    assert any("--sets everyday --variant ... --record" in line for line in lines)
    assert any(line.startswith("Every variant's recipe: architecture hourglass") for line in lines)


@pytest.mark.parametrize("argv, message", [
    (["--sets", "everyday", "--max-val", "3", "--record"], "--record measures the whole validation split"),
    (["--sets", "everyday", "--data", "somewhere"], "--data names the LSPet folder of --sets lspet"),
    (["--sets", "coco"], "invalid choice: 'coco'"),
    (["--max-val", "-1"], "--max-val must be >= 0, got -1"),
])
def test_bad_ablation_arguments_are_named(argv, message, capsys):
    from tools.ablation import main

    with pytest.raises(SystemExit) as e:
        main(["simplebaseline-coco", "--variant", "a=tiny:w.h5:1", *argv])
    assert e.value.code == 2 and message in capsys.readouterr().err
