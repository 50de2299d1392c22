"""The main job: load a published model, find the person in a photo, predict, draw, save.

    python -m tools.demo --image photo.jpg --output out/
    python -m tools.demo                     # a real photo from the shared data (MPII sample)
    python -m tools.demo --people-image group.jpg   # and every person of a group photo

Then the multi-person part, on a photo with several people (default: a COCO image from the
shared data): the person detector (``person-detector``) finds the people and the same model
predicts each one (top-down, ``predict_people``), every person drawn into
``<output>/<stem>_people.jpg`` with ``<stem>_people.json``; then the detector's TFLite file and
the model's run in sequence on the photo (``edge.people_tflite``, the phone's path) and are
compared with Keras. ``--people-model openpose-lsp`` runs the bottom-up model instead (the whole
image letterboxed, its TFLite file with the grouping inside).

Writes ``<output>/<stem>_pose.jpg`` (skeleton drawn) and ``<output>/<stem>_pose.json``
(keypoints in image pixels, scores, joint names, the person box, the model id). Then exports the
model to an int8 TFLite file (decoding inside; kept under ``--exports`` and reused), runs it with
the LiteRT interpreter on the same crop, and prints how far its keypoints are from the Keras
model's and its latency.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from tools._cli import (
    check_writable_folder,
    detector_tflite_file,
    model_name,
    quiet_native,
    quiet_startup,
    quiet_tensorflow_start,
    removing_created_folders,
    run,
)

DEFAULT_IMAGE = "mpii-sample/060754485.jpg"
DEFAULT_PEOPLE_IMAGE = "coco-mini/train2017/000000000790.jpg"  # four people at a table


class Steps:
    """Prints each step with its duration (the progress a person sees)."""

    def __init__(self):
        self.t = time.time()

    def __call__(self, msg: str):
        now = time.time()
        print(f"[{now - self.t:6.1f}s] {msg}", flush=True)


def parser() -> argparse.ArgumentParser:
    """The arguments; nothing heavy is imported to build it (``--help`` answers at once)."""
    p = argparse.ArgumentParser(prog="python -m tools.demo", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="zoo name[@version] (default: the most accurate published single-person "
                   "model, zoo.most_accurate())")
    p.add_argument("--image", help=f"RGB photo (default: <data root>/{DEFAULT_IMAGE})")
    p.add_argument("--output", default="out", help="folder for the drawn image and the JSON")
    p.add_argument("--threshold", type=float, default=0.1, help="joints below this score are not drawn")
    p.add_argument("--exports", default="exports", help="where the TFLite export is written / reused")
    p.add_argument("--tflite", default="int8", choices=["float32", "float16", "dynamic", "int8", "none"],
                   help="TFLite precision to export and run (none: skip)")
    p.add_argument("--people-model", help="zoo model of the multi-person part (default: the model above with the "
                   "person detector; a multi-person model such as openpose-lsp runs on the whole image)")
    p.add_argument("--people-image", help=f"photo with several people (default: <data root>/{DEFAULT_PEOPLE_IMAGE}; "
                   "'none' skips the multi-person part)")
    p.add_argument("--verbose", action="store_true",
                   help="show TensorFlow's start-up, warnings and the TFLite converter's own lines")
    return p


def main(argv=None):
    args = parser().parse_args(argv)
    quiet_startup(args.verbose)
    # What can be checked is checked before TensorFlow and the model load.
    args.model = model_name(args.model)
    args.people_model = model_name(args.people_model) if args.people_model else None
    folders = [check_writable_folder(args.output)]
    if args.tflite != "none":
        folders.append(check_writable_folder(args.exports))
    step = Steps()
    step("loading TensorFlow and the model ...")
    quiet_tensorflow_start(args.verbose)
    with removing_created_folders(*folders):
        return demo(args, step)


def demo(args, step):
    import numpy as np

    import zoo
    from tools.files import write_json
    from training.datasets.base import data_root
    from zoo.detect import find_person
    from zoo.io import read_image, write_image
    from zoo.preprocess import crop_matrix, to_image_coords, warp
    from zoo.visualize import draw_skeleton

    image_path = Path(args.image) if args.image else data_root() / DEFAULT_IMAGE
    model = zoo.load(args.model or zoo.most_accurate())
    step(f"loaded {model.spec.id} ({model.count_params():,} parameters, input {model.input_size}px)")
    image = read_image(image_path)
    step(f"read {image_path} ({image.shape[1]}x{image.shape[0]})")
    box = find_person(image, model)
    seen = ("no person found: the box is the best guess" if not box.people else
            f"{box.people} people seen, the largest, most central one taken" if box.people > 1 else "1 person seen")
    step(f"person box: centre ({box.center[0]:.0f}, {box.center[1]:.0f}), side {box.side:.0f}px "
         f"({box.source}, mean joint score {box.score:.2f}; {seen})")
    matrix = crop_matrix(box.center, box.side, model.input_size)
    crop = warp(image, matrix, model.input_size)
    kps, scores = model.predict_keypoints(crop[None])
    keypoints = to_image_coords(kps[0], matrix)
    step("predicted keypoints")
    out_dir = Path(args.output)
    stem = image_path.stem
    drawn = draw_skeleton(image, keypoints, model.skeleton, scores[0], args.threshold,
                          thickness=max(2, int(box.side / 100)))
    write_image(out_dir / f"{stem}_pose.jpg", drawn)
    result = {
        "model": model.spec.id,
        "image": str(image_path),
        "box": {"center": list(box.center), "side": box.side, "source": box.source, "people_seen": box.people},
        "joints": list(model.skeleton.joint_names),
        "keypoints": np.round(keypoints, 2).tolist(),
        "scores": np.round(scores[0], 4).tolist(),
    }
    if args.tflite != "none":
        result["tflite"] = run_tflite(model, crop, kps[0], matrix, args.tflite, args.exports, step, args.verbose)
    write_json(out_dir / f"{stem}_pose.json", result)
    step(f"wrote {out_dir / (stem + '_pose.jpg')} and {out_dir / (stem + '_pose.json')}")
    for name, (x, y), s in zip(model.skeleton.joint_names, keypoints, scores[0]):
        print(f"  {name:<16} x {x:7.1f}  y {y:7.1f}  score {s:.2f}")
    if args.people_image != "none":
        people_image = Path(args.people_image) if args.people_image else data_root() / DEFAULT_PEOPLE_IMAGE
        people_demo(zoo.load(args.people_model) if args.people_model else model, people_image, out_dir, args, step)
    return 0


def people_demo(model, image_path, out_dir, args, step):
    """Multi-person part: every person in the photo, from Keras and from the TFLite file(s): a
    single-person ``model`` on the person detector's boxes, a multi-person one on the whole image."""
    import numpy as np

    from edge.tasks import edge_task
    from tools.files import write_json
    from zoo.detectors import load_detector
    from zoo.io import read_image, write_image
    from zoo.visualize import draw_skeleton

    # A model whose decoding groups joints into people finds them itself; otherwise the detector's boxes.
    top_down = not edge_task(model.task).grouping
    detector = load_detector() if top_down else None
    step(f"{model.spec.id} on " + (f"every box of {detector.spec.id} (crops of {model.input_size}px)" if top_down
                                   else f"the whole image letterboxed to {model.input_size}px"))
    image = read_image(image_path)
    people, scores = model.predict_people(image, detector=detector) if top_down else model.predict_people(image)
    step(f"{image_path} ({image.shape[1]}x{image.shape[0]}): {len(people)} people found")
    drawn = image
    # A bottom-up person lacks a joint with score 0; a top-down one has every joint, some weakly seen.
    shown = args.threshold if top_down else 0.0
    for i, person in enumerate(people):  # each person in their own colours (zoo.visualize.person_colours)
        xy = np.where(person[:, 2:] > shown, person[:, :2], np.nan)
        drawn = draw_skeleton(drawn, xy, model.skeleton, thickness=max(2, max(image.shape[:2]) // 200), person=i)
    stem = image_path.stem
    write_image(out_dir / f"{stem}_people.jpg", drawn)
    result = {"model": model.spec.id, "image": str(image_path), "joints": list(model.skeleton.joint_names),
              "people": [{"score": round(float(s), 4), "keypoints": np.round(p[:, :2], 2).tolist(),
                          "joint_scores": np.round(p[:, 2], 4).tolist()} for p, s in zip(people, scores)]}
    if args.tflite != "none":
        compare = run_top_down_people_tflite if top_down else run_people_tflite
        result["tflite"] = compare(model, image, args.tflite, args.exports, step, args.verbose)
    write_json(out_dir / f"{stem}_people.json", result)
    step(f"wrote {out_dir / (stem + '_people.jpg')} and {out_dir / (stem + '_people.json')}")
    for i, (p, s) in enumerate(zip(people, scores)):
        found = p[:, 2] > shown
        print(f"  person {i + 1}: score {s:.3f}, {int(found.sum())} joints, centre "
              f"({p[found, 0].mean():.0f}, {p[found, 1].mean():.0f})")
    return result


def median_ms(call, runs: int) -> float:
    """The median wall time of ``call()`` over ``runs`` runs, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(1000 * (time.perf_counter() - start))
    return float(statistics.median(times))


def run_tflite(model, crop, keras_kps, matrix, precision, exports, step, verbose=False):
    """Exports (or reuses) the TFLite file, runs it on ``crop``, compares with Keras, times it."""
    import numpy as np

    from edge.exporter import artifact_path, cached_tflite
    from edge.tflite import TFLiteRunner
    from zoo.preprocess import to_image_coords

    # The converter's and LiteRT's own lines ("fully_quantize: 0, ...") silenced; the folders an
    # interrupted export created removed.
    folder = artifact_path(model.spec, exports, "tflite", precision).parent
    with removing_created_folders(folder), quiet_native(verbose):
        path = cached_tflite(model, precision, exports, log=step)
        runner = TFLiteRunner(path, num_threads=2)
        kp, sc = runner.predict(crop[None])
    dist = np.linalg.norm(kp[0] - keras_kps, axis=-1)
    median = median_ms(lambda: runner.predict(crop[None]), runs=50)
    step(f"TFLite {precision} (LiteRT, XNNPACK, 2 threads): keypoints {dist.mean():.2f} px from the Keras "
         f"model on average (median {np.median(dist):.2f} px, max {dist.max():.2f} px, input pixels); "
         f"median latency {median:.1f} ms "
         f"over 50 runs on this machine")
    return {"file": str(path), "precision": precision,
            "keypoints": np.round(to_image_coords(kp[0], matrix), 2).tolist(),
            "scores": np.round(sc[0], 4).tolist(),
            "mean_distance_to_keras_px": round(float(dist.mean()), 3),
            "median_distance_to_keras_px": round(float(np.median(dist)), 3),
            "max_distance_to_keras_px": round(float(dist.max()), 3),
            "median_latency_ms": round(median, 2)}


def run_top_down_people_tflite(model, image, precision, exports, step, verbose=False):
    """Exports (or reuses) the person detector's and ``model``'s TFLite files, runs them in
    sequence on the photo (``edge.people_tflite``) and compares their people with Keras's."""
    import numpy as np

    from edge.detector_tflite import DetectorRunner
    from edge.exporter import artifact_path, cached_tflite
    from edge.people_tflite import TopDownPeopleTFLite
    from edge.tflite import TFLiteRunner

    detector, detector_precision, detector_file = detector_tflite_file(precision, exports, verbose, step)
    folder = artifact_path(model.spec, exports, "tflite", precision).parent
    with removing_created_folders(folder), quiet_native(verbose):  # as in run_tflite
        pose_file = cached_tflite(model, precision, exports, log=step)
        files = TopDownPeopleTFLite(DetectorRunner(detector_file, 2), TFLiteRunner(pose_file, 2))
        people, scores = files.predict_people(image)
    keras_people, keras_scores = model.predict_people(image, detector=detector)
    # People in the same order on both paths; joints both score >= 0.3 are compared.
    n = min(len(people), len(keras_people))
    both = (people[:n, :, 2] >= 0.3) & (keras_people[:n, :, 2] >= 0.3)
    d = np.linalg.norm(people[:n, :, :2] - keras_people[:n, :, :2], axis=-1)[both]
    agreement = {"same_number_of_people": bool(len(people) == len(keras_people)),
                 "people_keras": int(len(keras_people)), "people_tflite": int(len(people)),
                 "joints_compared": int(both.sum()),
                 "mean_px": round(float(d.mean()), 3) if d.size else None,
                 "max_px": round(float(d.max()), 3) if d.size else None}
    median = median_ms(lambda: files.predict_people(image), runs=10)
    step(f"TFLite {detector_precision} detector + {precision} pose model in sequence (LiteRT, XNNPACK, 2 threads): "
         f"{len(people)} people (Keras: {len(keras_people)}); confident joints {agreement['mean_px']} px from "
         f"Keras on average (max {agreement['max_px']} px, image pixels); median {median:.0f} ms per photo "
         f"(detector, crops and every person) over 10 runs on this machine")
    return {"files": [str(detector_file), str(pose_file)], "precision": precision,
            "detector_precision": detector_precision, "people": len(people),
            "keypoints": np.round(people[..., :2], 2).tolist(), "scores": np.round(scores, 4).tolist(),
            "agreement_with_keras": agreement, "median_latency_ms": round(median, 2)}


def run_people_tflite(model, image, precision, exports, step, verbose=False):
    """Exports (or reuses) the multi-person TFLite file (grouping inside), runs it on the
    letterboxed photo and compares its people with the Keras model's on the same input."""
    import numpy as np

    from edge.agreement import compare_people
    from edge.exporter import artifact_path, cached_tflite
    from edge.tflite import TFLiteRunner
    from zoo.preprocess import letterbox

    folder = artifact_path(model.spec, exports, "tflite", precision).parent
    with removing_created_folders(folder), quiet_native(verbose):  # as in run_tflite
        path = cached_tflite(model, precision, exports, log=step)
        runner = TFLiteRunner(path, num_threads=2)
        boxed, to_image = letterbox(image, model.input_size)
        people, scores = runner.predict(boxed[None])
    keras_people, keras_scores = (np.asarray(v) for v in model.graph_function("people")(boxed[None].astype(np.float32)))
    match = compare_people(keras_people[0], keras_scores[0], people[0], scores[0])
    d = np.asarray(match["distances"])
    agreement = {"same_number_of_people": bool(match["same_count"]), "swaps": match["swaps"],
                 "joints_in_one_only": match["one_only"],
                 "mean_px": round(float(d.mean()), 3) if d.size else None,
                 "max_px": round(float(d.max()), 3) if d.size else None}
    median = median_ms(lambda: runner.predict(boxed[None]), runs=30)
    found = people[0][scores[0] > 0]
    step(f"TFLite {precision} (LiteRT, XNNPACK, 2 threads): {len(found)} people (Keras: "
         f"{int((keras_scores[0] > 0).sum())}); keypoints {agreement['mean_px']} px from Keras on average "
         f"(max {agreement['max_px']} px, input pixels); median latency {median:.1f} ms with the grouping "
         f"inside, over 30 runs on this machine")
    xy = found[..., :2] @ to_image[:2, :2].T + to_image[:2, 2]
    return {"file": str(path), "precision": precision, "people": len(found),
            "keypoints": np.round(np.where(found[..., 2:] > 0, xy, 0), 2).tolist(),
            "agreement_with_keras": agreement, "median_latency_ms": round(median, 2)}


def cli():
    sys.exit(run(main, start_tensorflow=False))


if __name__ == "__main__":
    cli()
