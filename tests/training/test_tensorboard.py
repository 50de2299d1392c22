"""TensorBoard a person wants to read (#16.7, #30.7): one run per training, named after its
workdir (the event files in the workdir itself), one tag per figure grouped ``train/...`` /
``val/...`` with the per-joint PCK in a group of its own (``val_per_joint/...``), the global
optimizer step continuing across phases, the learning rate every step of a short epoch, the
validation loss of top-down models, OKS AP of bottom-up ones, labelled image grids whose
captions stay readable when TensorBoard shrinks them, the recipe as text and hparams whose
headline ones show by default.

Tiny models on the first LSPet images; skips without the data.
"""

import csv

import numpy as np
import pytest

from training.tensorboard_images import CAPTION, TILE


def read_events(logdir):
    """``{tag: [(step, plugin, value)]}`` of every event file of the run ``logdir`` (one folder:
    no sub-folder holds event files, which TensorBoard would show as more runs)."""
    import tensorflow as tf

    files = sorted(logdir.glob("events.out.tfevents.*"))
    assert files, f"no event files in {logdir}"
    assert sorted(logdir.rglob("events.out.tfevents.*")) == files, "event files in sub-folders (several runs)"
    tags = {}
    for path in files:
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            for value in event.summary.value:
                plugin = value.metadata.plugin_data.plugin_name
                content = tf.make_ndarray(value.tensor) if value.HasField("tensor") else value.simple_value
                if plugin == "hparams":
                    content = value.metadata.plugin_data.content
                tags.setdefault(value.tag, []).append((event.step, plugin, content))
    return tags


def steps(tags, tag):
    return [s for s, _, _ in tags[tag]]


def decode_png(value):
    import tensorflow as tf

    width, height, *pngs = value
    assert len(pngs) == 1, "one grid image per summary step"
    image = tf.io.decode_png(pngs[0]).numpy()
    assert image.shape[:2] == (int(height), int(width))
    return image


def hparams_metric(tags):
    from tensorboard.plugins.hparams import metadata

    (_, _, content), = tags["_hparams_/experiment"]
    experiment = metadata.parse_experiment_plugin_data(content)
    return [m.name.tag for m in experiment.metric_infos], [h.name for h in experiment.hparam_infos]


def shown_by_default(tags):
    """The hparams TensorBoard's HParams dashboard ticks without being asked: its server sorts
    them by ``differs`` (True first), then by name; its page ticks the first five
    (``tensorboard/plugins/hparams``: ``backend_context._sort_and_reduce_to_hparams_limit``,
    ``tf-hparams-query-pane``)."""
    from tensorboard.plugins.hparams import metadata

    (_, _, content), = tags["_hparams_/experiment"]
    infos = metadata.parse_experiment_plugin_data(content).hparam_infos
    return [h.name for h in sorted(infos, key=lambda h: (not h.differs, h.name))][:5]


STEP_TAGS = {"recipe", "_hparams_/experiment", "_hparams_/session_start_info"}


def test_summary_tags_and_frequency():
    from training.run_log import summary_every, summary_tags

    assert summary_tags(["loss", "stage1_loss", "stage2_loss", "pck@0.2_limbs", "oks_ap50"]) == {
        "loss": "loss", "stage1_loss": "stage1/loss", "stage2_loss": "stage2/loss",
        "pck@0.2_limbs": "pck@0.2_limbs", "oks_ap50": "oks_ap50"}
    # Per-stage figures of an output with one stage repeat the output's own: left out.
    assert summary_tags(["loss", "stage1_loss", "pafs_loss", "pafs_stage1_loss", "pafs_stage2_loss",
                         "heatmaps_loss", "heatmaps_stage1_loss"]) == {
        "loss": "loss", "pafs_loss": "pafs/loss", "pafs_stage1_loss": "pafs/stage1/loss",
        "pafs_stage2_loss": "pafs/stage2/loss", "heatmaps_loss": "heatmaps/loss"}
    assert summary_tags(["stage1_pck@0.2", "stage2_pck@0.2"]) == {"stage1_pck@0.2": "stage1/pck@0.2",
                                                                  "stage2_pck@0.2": "stage2/pck@0.2"}
    assert [summary_every(n) for n in (3, 50, 400, 10000)] == [1, 5, 20, 20]


def test_image_grid_is_captioned_and_upscaled():
    from training.tensorboard_images import image_grid

    crop = np.zeros((32, 32, 3), np.uint8)
    grid = image_grid([[("truth", crop), ("stage 1", crop)], [("truth", crop)]])
    bar = (grid.shape[1] - 4) // 2 - TILE  # the caption bar above every tile
    assert grid.shape == (1, 2 * (TILE + bar) + 4, 2 * TILE + 4, 3) and grid.dtype == np.uint8 and bar >= CAPTION
    assert grid[0, :bar, :TILE].max() > 200  # white caption text on the dark bar


def _text_rows(bar):
    """Rows of a caption bar with text on them (white pixels)."""
    return np.flatnonzero((bar.max(axis=(1, 2)) > 200))


@pytest.mark.parametrize("columns", [3, 4])
def test_captions_stay_readable_when_tensorboard_shrinks_the_grid(columns):
    """``val/maps_per_stage`` is 3 tiles wide (hourglass: crop, stage 1, stage 2) or more; shown
    in a card about 400 px wide, its captions' letters must stay about 10 px tall."""
    import cv2

    from training.tensorboard_images import image_grid

    crop = np.zeros((64, 64, 3), np.uint8)
    grid = image_grid([[("crop", crop)] + [(f"stage {s + 1}", crop) for s in range(columns - 1)]])[0]
    bar = grid[:, :TILE]
    rows = _text_rows(bar[:bar.shape[0] - TILE])
    letters = rows.max() - rows.min() + 1  # "stage 1": cap height to the descender of the g
    shown = letters * 400 / grid.shape[1]
    assert shown >= 9, f"{columns} tiles: caption letters {letters} px, {shown:.1f} px in a 400 px card"
    # The caption is white text on the dark bar above the tile, at the tile's full width.
    small = cv2.resize(grid, (400, round(400 * grid.shape[0] / grid.shape[1])), interpolation=cv2.INTER_AREA)
    assert small[:int(small.shape[0] * 0.1)].max() > 150


def test_long_captions_wrap_and_every_tile_gets_the_same_bar():
    from training.tensorboard_images import image_grid

    crop = np.zeros((64, 64, 3), np.uint8)
    grid = image_grid([[("crop", crop), ("stage 1: limb fields (PAF)", crop), ("stage 3: part maps", crop),
                        ("stage 2 background", crop)]])[0]
    bar_height = grid.shape[0] - TILE
    assert bar_height > CAPTION  # two lines
    for c in range(4):  # every tile starts right under the same bar
        tile = grid[bar_height:, c * (TILE + 4):c * (TILE + 4) + TILE]
        assert tile.shape[0] == TILE and tile.max() == 0


def test_run_is_named_after_the_workdir(tmp_path):
    from training.run_log import run_log_dir

    assert run_log_dir(tmp_path) == tmp_path
    # A run begun before event files moved out of ``logs/`` goes on there when resumed.
    (tmp_path / "logs").mkdir()
    assert run_log_dir(tmp_path) == tmp_path
    (tmp_path / "logs" / "events.out.tfevents.1.host").write_bytes(b"")
    assert run_log_dir(tmp_path) == tmp_path / "logs"


def test_headline_hparams_are_the_ones_shown_by_default(tmp_path):
    from training.experiments import get_experiment
    from training.run_log import HEADLINE_HPARAMS, RunLog, write_recipe

    log = RunLog.open(tmp_path, steps_per_epoch=3)
    write_recipe(log, get_experiment("hourglass_tiny"))
    log.close()
    tags = read_events(tmp_path)
    assert shown_by_default(tags) == sorted(HEADLINE_HPARAMS)
    assert {"learning_rate", "epochs", "batch_size"} <= set(HEADLINE_HPARAMS)
    metrics, hparams = hparams_metric(tags)
    assert len(hparams) > 5 and "val/pck@0.2" in metrics  # every hparam is still there, one tick away


def test_phase_steps_follow_each_other():
    from training.phases import Phase, step_offsets
    from training.run_log import RunLog

    assert step_offsets((Phase(1, 2), Phase(2, 3), Phase(3, 1)), 10) == [0, 20, 50]
    run = RunLog(writer=None, steps_per_epoch=10)
    log = run.phase(20)  # the third epoch's phase: same writer, same record of images written
    assert log.step(0, 0) == 21 and log.epoch_end(2) == 50 and log.written is run.written


def test_history_keeps_the_columns_of_the_file_it_appends_to(tmp_path):
    from training.callbacks import HistoryCSV

    path = tmp_path / "history.csv"
    path.write_text("epoch,epoch_seconds,learning_rate,loss,val_pck@0.2\n0,1.0,0.001,0.5,0.1\n")
    cb = HistoryCSV(str(path))
    cb.on_train_begin()
    # A resumed run whose logs gained a validation loss (which Keras would sort before val_pck).
    cb.on_epoch_end(1, {"loss": 0.4, "val_loss": 0.3, "val_pck@0.2": 0.2, "learning_rate": 0.0005,
                        "epoch_seconds": 2.0})
    cb.on_train_end()
    rows = list(csv.DictReader(open(path)))
    assert rows[-1] == {"epoch": "1", "epoch_seconds": "2.0", "learning_rate": "0.0005", "loss": "0.4",
                        "val_pck@0.2": "0.2"}


@pytest.mark.slow
def test_top_down_two_phases_write_one_run(tmp_path, lspet_root):
    from training.datasets import load_lspet
    from training.experiments import get_experiment
    from training.losses import loss_and_stage_metrics
    from training.phases import Phase
    from training.pipeline import validation_dataset
    from training.train import train

    # hourglass_tiny (2 stacks, 32 px, 3 steps per epoch) in two phases of one epoch each: the
    # first supervises stack 1's metric only, the second both.
    exp = get_experiment("hourglass_tiny").replace(phases=(Phase(1, 1), Phase(2, 1, 5e-4)))
    model, _ = train(exp, str(tmp_path), data=str(lspet_root), max_val=8, max_train=32, verbose=0)
    assert not (tmp_path / "logs").exists()
    tags = read_events(tmp_path)  # the workdir is the run: TensorBoard names it after the workdir
    joints = model.skeleton.joint_names
    scalars = ({"train/loss", "train/learning_rate", "train/epoch_seconds", "train/stage1/loss",
                "train/stage2/loss", "val/loss", "val/stage1/loss", "val/stage2/loss", "val/pck@0.2",
                "val/pck@0.1", "val/pck@0.2_limbs", "val/stage1/pck@0.2", "val/stage2/pck@0.2"}
               | {f"val_per_joint/pck@0.2/{j}" for j in joints})
    images = {"val/prediction", "val/maps_per_stage"}
    assert set(tags) == scalars | images | STEP_TAGS, sorted(set(tags) ^ (scalars | images | STEP_TAGS))
    for tag in scalars:
        assert all(plugin == "scalars" for _, plugin, _ in tags[tag]), tag
        assert np.all(np.isfinite([float(v) for _, _, v in tags[tag]])), tag
        assert np.all(np.diff(steps(tags, tag)) > 0), f"{tag}: steps {steps(tags, tag)} not increasing"

    # The global step continues across the phases: 3 steps each; every step of these short
    # epochs has the training figures, each epoch end the validation ones.
    assert steps(tags, "train/loss") == steps(tags, "train/learning_rate") == [1, 2, 3, 4, 5, 6]
    assert steps(tags, "train/stage2/loss") == [4, 5, 6]  # phase 1 has one supervised stage
    assert len(tags["train/learning_rate"]) > exp.epochs
    for tag in scalars - {"train/loss", "train/learning_rate", "train/stage1/loss", "train/stage2/loss",
                          "val/stage1/loss", "val/stage2/loss"}:
        assert steps(tags, tag) == [3, 6], tag
    assert steps(tags, "val/stage2/loss") == [6]
    # Each phase its own warm-up and cosine: the second peaks at its own 5e-4.
    lr = [float(v) for _, _, v in tags["train/learning_rate"]]
    assert lr[0] == pytest.approx(exp.learning_rate) and lr[3] == pytest.approx(5e-4)
    assert all(0.0 <= float(v) <= 1.0 for _, _, v in tags["val/pck@0.2"])

    # history.csv keeps its columns (model cards) and gains the validation loss, which is what
    # Keras' evaluate says on the same crops.
    rows = list(csv.DictReader(open(tmp_path / "stage2" / "history.csv")))
    assert {"loss", "val_pck@0.2", "val_stage2_pck@0.2", "learning_rate", "epoch_seconds", "val_loss",
            "val_stage1_loss", "val_stage2_loss"} <= set(rows[-1])
    assert float(rows[-1]["val_loss"]) == pytest.approx(float(tags["val/loss"][-1][2]), rel=1e-5)
    assert float(rows[-1]["val_pck@0.2"]) == pytest.approx(float(tags["val/pck@0.2"][-1][2]), rel=1e-5)
    loss, metrics = loss_and_stage_metrics(model.codec, 2)
    model.compile(optimizer="adam", loss=loss, weighted_metrics=metrics)
    val = load_lspet(str(lspet_root), split="val")
    expected = model.evaluate(validation_dataset(val.subset(range(8)), model.codec), return_dict=True, verbose=0)
    for key in ("loss", "stage1_loss", "stage2_loss"):
        assert float(rows[-1][f"val_{key}"]) == pytest.approx(expected[key], rel=1e-4), key

    # Images: one labelled grid per epoch, tiles scaled up to TILE pixels.
    assert steps(tags, "val/prediction") == [3, 6]
    grid = decode_png(tags["val/prediction"][-1][2])
    assert grid.shape[1] >= 2 * TILE and grid.shape[0] >= 4 * (TILE + CAPTION)  # 4 crops: truth | heatmaps
    stages = decode_png(tags["val/maps_per_stage"][-1][2])
    assert stages.shape[1] >= 3 * TILE  # crop | stage 1 | stage 2

    # The recipe as text and hparams at step 0, with the validation PCK as the run's figure.
    (step, plugin, text), = tags["recipe"]
    assert step == 0 and plugin == "text" and b"hourglass_tiny" in text.item()
    metrics, hparams = hparams_metric(tags)
    assert "val/pck@0.2" in metrics
    assert {"architecture", "input_size", "batch_size", "learning_rate", "epochs", "precision", "augment_scale",
            "augment_rotation_deg", "backbone_weights"} <= set(hparams)
    assert shown_by_default(tags) == ["architecture", "batch_size", "epochs", "input_size", "learning_rate"]


@pytest.mark.slow
def test_bottom_up_logs_oks_ap_and_people(tmp_path, lspet_root):
    from training.experiments import get_experiment
    from training.train import train

    exp = get_experiment("openpose_tiny")  # 2 epochs of 2 steps, 2 held-out scenes
    model, history = train(exp, str(tmp_path), data=str(lspet_root), max_train=20, max_val=10, verbose=0)
    assert {"val_oks_ap", "val_oks_ap50"} <= set(history.history)
    tags = read_events(tmp_path)
    # One PAF and one confidence-map stage: the per-stage losses are the per-output ones.
    scalars = {"train/loss", "train/pafs/loss", "train/heatmaps/loss", "train/learning_rate", "train/epoch_seconds",
               "val/loss", "val/pafs/loss", "val/heatmaps/loss", "val/oks_ap", "val/oks_ap50"}
    images = {"val/maps_per_stage", "val/people"}
    assert set(tags) == scalars | images | STEP_TAGS, sorted(set(tags) ^ (scalars | images | STEP_TAGS))
    assert steps(tags, "train/loss") == steps(tags, "train/learning_rate") == [1, 2, 3, 4]
    for tag in scalars - {"train/loss", "train/pafs/loss", "train/heatmaps/loss", "train/learning_rate"}:
        assert steps(tags, tag) == [2, 4], tag
    assert all(0.0 <= float(v) <= 1.0 for _, _, v in tags["val/oks_ap"])
    people = decode_png(tags["val/people"][-1][2])
    assert people.shape[1] >= TILE and people.shape[0] >= 2 * (TILE + CAPTION)  # 2 scenes
    assert "val/oks_ap" in hparams_metric(tags)[0]
    rows = list(csv.DictReader(open(tmp_path / "history.csv")))
    assert [float(r["val_oks_ap"]) for r in rows] == pytest.approx([float(v) for _, _, v in tags["val/oks_ap"]])
