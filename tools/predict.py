"""Poses on whatever you have: a photo, a folder of photos, a video file or a camera.

    python -m tools.predict photo.jpg --output out/           # out/photo_pose.jpg + photo_pose.json
    python -m tools.predict photos/ --output out/             # every image of the folder
    python -m tools.predict clip.mp4 --output out/            # out/clip_pose.mp4 + clip_pose.jsonl
    python -m tools.predict 0 --max-frames 300 --output out/  # camera 0: out/camera0_pose.mp4 + .jsonl
    python -m tools.predict clip.mp4 --backend tflite         # the phone's path: the int8 file via LiteRT
    python -m tools.predict group.jpg --people                # every person: person detector + the model
    python -m tools.predict group.jpg --people --backend tflite   # the same with the two .tflite files

``--model`` defaults to the most accurate published single-person model (``zoo.most_accurate()``),
which runs on the person the detection step finds (``zoo.detect``; in a video, tracked from the
previous frame's pose); with ``--people`` it runs on every person the person detector finds
(top-down, ``predict_people``; with ``--backend tflite`` the detector's file and the model's file
in sequence, ``edge.people_tflite``); a multi-person model (``openpose-lsp``) runs on the whole
frame. Keypoints
and scores are in image pixels. A video keeps its frame count, size and frame rate; its JSONL has
one object per frame (``frame``, ``time_s``, ``people``). Video and camera keypoints go through a
One Euro filter (``zoo.smoothing``; ``--no-smooth`` turns it off). ``--format coco`` writes
COCO keypoint results (17 COCO keypoints; joints the model lacks are 0, 0, 0) instead of the JSON:
one file per photo, folder or video (``image_id``: a photo's numeric file name, else its position
in the folder; a frame's index). Bad input is one line naming the file and the problem, exit 2,
checked before the model loads (the source, ``--output``'s folder, the model name, any case);
in a folder, a damaged image is one line and the others go on: the results are written and the
exit status is 1, with the count of what failed. Every file is written under a temporary name
and renamed when complete; a run that fails or is interrupted removes the folders it created
while they are still empty. With several people in a photo a single-person model takes the
largest, most central one and says how many it saw (``--people``: every one of them); a photo
with no person found says so.
An odd-sized video (e.g. 311x222), which OpenCV's MP4 writer cannot keep, is written as MJPEG
AVI at its own size. ``--verbose`` shows TensorFlow's start-up and converter logs.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
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
    silenced_stderr,
)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v")


class SourceError(ValueError):
    """A source that cannot be read: the message names it and says what is wrong."""


def open_video(source):
    """``cv2.VideoCapture`` of a file path or camera index, OpenCV's and FFmpeg's own messages
    silenced; ``(capture, frames per second, frame count or 0 when unknown)``. Raises
    ``SourceError`` when it cannot be opened or gives no frame."""
    import cv2

    what = f"camera {source}" if isinstance(source, int) else str(source)
    with silenced_stderr():
        cap = cv2.VideoCapture(source)
    if not cap.isOpened():
        raise SourceError(f"{what}: no camera with this index could be opened" if isinstance(source, int)
                          else f"{what}: cannot be opened as a video "
                               "(not a video file, or a format OpenCV cannot read)")
    fps = cap.get(cv2.CAP_PROP_FPS)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) if not isinstance(source, int) else 0
    return cap, (fps if fps and 1 <= fps <= 1000 else 30.0), max(count, 0)


def read_frames(cap):
    """RGB frames of an open capture until it ends."""
    import cv2

    while True:
        with silenced_stderr():
            ok, frame = cap.read()
        if not ok:
            return
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def classify_source(text: str):
    """``("camera", index)``, ``("video", path)`` or ``("images", [paths], name)``; checks what can
    be checked before the model loads (exists, known type, a folder with images, a photo that
    decodes, a video that gives a first frame)."""
    if text.isdigit():
        cap, _, _ = open_video(int(text))
        cap.release()
        return ("camera", int(text))
    path = Path(text)
    if not path.exists():
        raise SourceError(f"{path}: no such file or folder")
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
        if not images:
            raise SourceError(f"{path}: folder holds no images ({' '.join(IMAGE_SUFFIXES)})")
        return ("images", images, path.name or "images")
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        from zoo.io import read_image

        read_image(path)  # a damaged photo given alone is an unreadable input (ImageError, exit 2)
        return ("images", [path], path.stem)
    if suffix in VIDEO_SUFFIXES:
        if path.stat().st_size == 0:
            raise SourceError(f"{path}: empty file (0 bytes), not a video")
        cap, _, _ = open_video(str(path))
        try:
            if next(read_frames(cap), None) is None:
                raise SourceError(f"{path}: no frame could be read (empty or damaged video)")
        finally:
            cap.release()
        return ("video", path)
    raise SourceError(f"{path}: unsupported file type {path.suffix or '(no extension)'!r}; images: "
                      f"{' '.join(IMAGE_SUFFIXES)}; videos: {' '.join(VIDEO_SUFFIXES)}; or a camera index")


def people_json(people, threshold: float, box=None):
    """The people of one image or frame as JSON: keypoints ``[x, y]`` in image pixels (null for a
    joint below ``threshold``), joint scores, the person's score (mean joint score) and, for a
    single-person model, the square ``box`` it was cropped from (centre, side, how it was found)."""
    import numpy as np

    out = []
    for p in people:
        ok = p[:, 2] >= threshold
        out.append({"score": round(float(p[:, 2].mean()), 4),
                    "keypoints": [[round(float(x), 2), round(float(y), 2)] if k else None
                                  for (x, y), k in zip(p[:, :2], ok)],
                    "scores": np.round(p[:, 2], 4).tolist()})
        if box is not None:
            out[-1]["box"] = {"center": [round(float(v), 2) for v in box.center], "side": round(box.side, 2),
                              "source": box.source}
    return out


def coco_results(people, image_id: int, to_coco):
    """COCO keypoint results of one image: 17 keypoints ``x, y, score`` each (0, 0, 0 for a COCO
    joint the model lacks), ``category_id`` 1, score = mean joint score."""
    out = []
    for p in people:
        flat = []
        for j in to_coco:
            flat += [0.0, 0.0, 0.0] if j < 0 else [round(float(p[j, 0]), 2), round(float(p[j, 1]), 2),
                                                   round(float(p[j, 2]), 4)]
        out.append({"image_id": image_id, "category_id": 1, "keypoints": flat,
                    "score": round(float(p[:, 2].mean()), 4)})
    return out


def draw(image, people, skeleton, threshold: float):
    import numpy as np

    from zoo.visualize import draw_skeleton

    thickness = max(2, max(image.shape[:2]) // 250)
    for i, p in enumerate(people):
        xy = np.where(p[:, 2:] >= threshold, p[:, :2], np.nan)
        image = draw_skeleton(image, xy, skeleton, thickness=thickness, person=i if len(people) > 1 else None)
    return image


def progress(total, unit: str):
    """A progress bar on stderr: items done, items per second (tqdm)."""
    from tqdm import tqdm

    return tqdm(total=total or None, unit=unit, file=sys.stderr, dynamic_ncols=True, mininterval=0.5)


def people_of(predictor, image, time_s=None):
    """The predictor's people in ``image``, none when a single-person model's search found no
    person (its best guess is dropped), and how many people the search saw (None: not searched)."""
    people = predictor(image, time_s=time_s)
    box = predictor.last_box
    if box is None or box.source == "tracked":
        return people, (len(people) if box is None else None)
    return (people if box.people else people[:0]), box.people


def predict_images(predictor, paths, name, out_dir: Path, args, header) -> int:
    """Every image of ``paths``; a damaged one is one line on stderr and the others go on.
    Returns the number that failed."""
    from tools.files import write_json
    from zoo.io import ImageError, read_image, write_image

    coco, failed = [], []
    with progress(len(paths), "image") as bar:
        for i, path in enumerate(paths):
            try:
                image = read_image(path)
            except ImageError as e:
                bar.write(f"error: {e} (skipped)", file=sys.stderr)
                failed.append(path)
                bar.update()
                continue
            people, seen = people_of(predictor, image)
            if not len(people):
                bar.write(f"{path}: no person found", file=sys.stderr)
            elif seen and seen > 1 and not predictor.whole_frame:
                bar.write(f"{path}: {seen} people seen, predicting the largest, most central one", file=sys.stderr)
            write_image(out_dir / f"{path.stem}_pose.jpg", draw(image, people, predictor.skeleton, args.threshold))
            if args.format == "coco":
                coco += coco_results(people, int(path.stem) if path.stem.isdigit() else i, header["to_coco"])
            else:
                box = predictor.last_box if len(people) else None
                write_json(out_dir / f"{path.stem}_pose.json",
                           {**header["meta"], "image": str(path), "width": image.shape[1],
                            "height": image.shape[0], "people": people_json(people, args.threshold, box)})
            bar.update()
    if args.format == "coco":
        write_json(out_dir / f"{name}_pose.json", coco)
    written = "_pose.jpg and _pose.json" if args.format != "coco" else f"_pose.jpg; COCO results {name}_pose.json"
    print(f"{len(paths) - len(failed)} image(s) -> {out_dir}/ (*{written})", file=sys.stderr)
    if failed:
        print(f"{len(failed)} of {len(paths)} image(s) failed: {', '.join(p.name for p in failed)}", file=sys.stderr)
    return len(failed)


def video_suffix(size) -> str:
    """``.mp4`` (MPEG-4 part 2, ``mp4v``), or ``.avi`` (MJPEG) for an odd width or height
    ``size = (w, h)``: OpenCV's FFmpeg writer rounds every codec's size down to even (311 -> 310),
    its own MJPEG AVI writer keeps any size."""
    return ".avi" if size[0] % 2 or size[1] % 2 else ".mp4"


def video_writer(path: Path, fps: float, size):
    """A ``cv2.VideoWriter`` of ``size = (w, h)`` frames for ``path``'s suffix (``video_suffix``)."""
    import cv2

    if path.suffix == ".avi":
        return cv2.VideoWriter(str(path), cv2.CAP_OPENCV_MJPEG, cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    with silenced_stderr():
        return cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)


def predict_stream(predictor, source, name: str, out_dir: Path, args, header):
    """A video file or a camera: every frame predicted (tracked, smoothed), drawn into
    ``<name>_pose.mp4`` (same size, frame count and rate; ``.avi`` for an odd size, see
    ``video_writer``) and described in ``<name>_pose.jsonl`` (or the COCO results ``<name>_pose.json``)."""
    import itertools

    from tools.files import write_json
    from zoo.io import atomic_path

    cap, fps, count = open_video(source)
    if args.max_frames:
        count = min(count, args.max_frames) if count else args.max_frames
    try:
        stream = read_frames(cap)
        first = next(stream, None)
        if first is None:
            raise SourceError(f"{source}: no frame could be read")
        h, w = first.shape[:2]
        video_path, json_path = _stream_paths(out_dir, name, (w, h))
        with contextlib.ExitStack() as stack:
            tmp_video = stack.enter_context(atomic_path(video_path))
            lines = None
            if args.format != "coco":
                lines = stack.enter_context(open(stack.enter_context(atomic_path(json_path)), "w"))
            bar = stack.enter_context(progress(count, "frame"))
            writer = video_writer(tmp_video, fps, (w, h))
            if not writer.isOpened():
                raise SourceError(f"{video_path}: OpenCV cannot write a {video_path.suffix} video here")
            try:
                coco, frames, empty = _predict_frames(predictor, itertools.chain([first], stream), source, fps,
                                                      writer, lines, bar, args, header)
            finally:
                writer.release()
    finally:
        cap.release()
    if args.format == "coco":
        json_path = write_json(out_dir / f"{name}_pose.json", coco)
    print(f"{frames} frame(s) at {fps:g} frames/s -> {video_path} and {json_path}", file=sys.stderr)
    if empty:
        print(f"no person found in {empty} of {frames} frame(s)", file=sys.stderr)


def _stream_paths(out_dir: Path, name: str, size):
    """The video and JSONL paths for ``size = (w, h)`` frames, noting on stderr an odd size's AVI."""
    w, h = size
    video_path = out_dir / f"{name}_pose{video_suffix((w, h))}"
    json_path = out_dir / f"{name}_pose.jsonl"
    if video_path.suffix == ".avi":
        print(f"{w}x{h} is an odd size, which OpenCV's MP4 writer cannot keep (it drops the last "
              f"column or row): writing {video_path.name} (MJPEG AVI) at {w}x{h}", file=sys.stderr)
    return video_path, json_path


def _predict_frames(predictor, frames_in, source, fps: float, writer, lines, bar, args, header):
    """Predicts, draws and describes each frame; returns the COCO results, frames done, frames without people."""
    import json

    import cv2

    coco, frames, empty = [], 0, 0
    try:
        for frame in frames_in:
            if args.max_frames and frames >= args.max_frames:
                break
            t = frames / fps
            people, _ = people_of(predictor, frame, time_s=t)
            empty += not len(people)
            writer.write(cv2.cvtColor(draw(frame, people, predictor.skeleton, args.threshold), cv2.COLOR_RGB2BGR))
            if lines is None:
                coco += coco_results(people, frames, header["to_coco"])
            else:
                box = predictor.last_box if len(people) else None
                lines.write(json.dumps({**header["meta"], "frame": frames, "time_s": round(t, 4),
                                        "people": people_json(people, args.threshold, box)}) + "\n")
            frames += 1
            bar.update()
    except KeyboardInterrupt:
        if not isinstance(source, int):
            raise
        # A camera runs until interrupted: the frames so far are the result.
    return coco, frames, empty


def parser() -> argparse.ArgumentParser:
    """The arguments; nothing heavy is imported to build it (``--help`` answers at once)."""
    p = argparse.ArgumentParser(prog="python -m tools.predict", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", help="an image, a folder of images, a video file, or a camera index (0)")
    p.add_argument("--model", help="zoo name[@version], any case (default: the most accurate single-person model)")
    p.add_argument("--output", default="out", help="folder for the drawn files and the keypoints (default out/)")
    p.add_argument("--backend", default="keras", choices=["keras", "tflite"],
                   help="keras, or tflite: the model's exported file run through LiteRT (exported once into --exports)")
    p.add_argument("--precision", default="int8",
                   help="TFLite file of the tflite backend: float32, float16, dynamic or int8 (default)")
    p.add_argument("--exports", default="exports", help="where the TFLite file is exported and reused")
    p.add_argument("--people", action="store_true",
                   help="single-person model: every person the person detector finds, not only the largest, "
                        "most central one (with --backend tflite: the detector's file, then the model's)")
    p.add_argument("--format", default="json", choices=["json", "coco"], help="keypoint file format")
    p.add_argument("--threshold", type=float, default=0.1, help="joints scored below this are not drawn (null in JSON)")
    p.add_argument("--no-smooth", dest="smooth", action="store_false",
                   help="video / camera: no One Euro filter on the keypoints")
    p.add_argument("--min-cutoff", type=float, default=1.0, help="One Euro filter: cutoff (Hz) at rest")
    p.add_argument("--beta", type=float, default=0.05, help="One Euro filter: cutoff increase with speed")
    p.add_argument("--max-frames", type=int, default=0, help="video / camera: stop after N frames (0: all; "
                   "a camera otherwise runs until Ctrl-C)")
    p.add_argument("--verbose", action="store_true",
                   help="show TensorFlow's start-up, warnings and the TFLite converter's own lines")
    return p


def main(argv=None):
    p = parser()
    args = p.parse_args(argv)
    quiet_startup(args.verbose)
    # Everything that can be checked is checked before the model loads.
    if args.backend == "tflite":
        from edge.tflite_conversion import PRECISIONS

        if args.precision not in PRECISIONS:
            p.error(f"argument --precision: invalid choice {args.precision!r} (choose from {', '.join(PRECISIONS)})")
    name = model_name(args.model)
    kind, *rest = classify_source(args.source)
    out_dir = check_writable_folder(args.output)
    folders = [out_dir] + ([check_writable_folder(args.exports)] if args.backend == "tflite" else [])
    quiet_tensorflow_start(args.verbose)
    with removing_created_folders(*folders):
        return predict(name, kind, rest, out_dir, args)


def predict(name, kind, rest, out_dir: Path, args) -> int:
    import zoo
    from edge.tasks import edge_task
    from zoo.predictor import PosePredictor
    from zoo.skeletons import COCO17, joint_mapping
    from zoo.smoothing import OneEuroFilter

    model = zoo.load(name or zoo.most_accurate())
    smoothing = OneEuroFilter(args.min_cutoff, args.beta) if args.smooth and kind != "images" else None
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    runner, file, people = None, None, None
    # --people with a model that does not group joints into people itself: the person detector's boxes.
    detected_people = args.people and not edge_task(model.task).grouping
    if detected_people and args.backend == "keras":
        from zoo.detectors import load_detector

        detector = load_detector()
        people = lambda image: model.predict_people(image, detector=detector)  # noqa: E731
    if args.backend == "tflite":
        import numpy as np

        # The converter's and LiteRT's own lines ("fully_quantize: 0, ...", the XNNPACK delegate's
        # on the first run) are printed by C++: fd 2 silenced while they are.
        from edge.exporter import artifact_path, cached_tflite
        from edge.tflite import TFLiteRunner

        folder = artifact_path(model.spec, args.exports, "tflite", args.precision).parent
        with removing_created_folders(folder), quiet_native(args.verbose):
            file = cached_tflite(model, args.precision, args.exports, log=log)
            runner = TFLiteRunner(file, num_threads=2)
            runner.predict(np.zeros((1, model.input_size, model.input_size, 3), np.uint8))
        if detected_people:
            people = _people_files(runner, args, log).predict_people
    predictor = PosePredictor(model, runner, smoothing=smoothing, people=people)
    log(f"{model.spec.id}: {model.task.summary}; backend {args.backend}" + (f" ({file.name})" if file else "")
        + ("; every person the person detector finds" if people is not None else ""))
    header = {"meta": {"model": model.spec.id, "backend": args.backend, "joints": list(model.skeleton.joint_names)},
              "to_coco": joint_mapping(model.skeleton, COCO17)}
    if kind == "images":
        return 1 if predict_images(predictor, rest[0], rest[1], out_dir, args, header) else 0
    if kind == "video":
        predict_stream(predictor, str(rest[0]), rest[0].stem, out_dir, args, header)
    else:
        predict_stream(predictor, rest[0], f"camera{rest[0]}", out_dir, args, header)
    return 0


def _people_files(pose_runner, args, log):
    """The person detector's TFLite file before the pose file (``edge.people_tflite``)."""
    from edge.detector_tflite import DetectorRunner
    from edge.people_tflite import TopDownPeopleTFLite

    _, _, file = detector_tflite_file(args.precision, args.exports, args.verbose, log)
    return TopDownPeopleTFLite(DetectorRunner(file, num_threads=2), pose_runner)


def cli():
    sys.exit(run(main, start_tensorflow=False))


if __name__ == "__main__":
    cli()
