"""Finds the people in the training photos of the real-photo sources with the person detector
(``person-detector``), once, into ``FOLDER/<source>.npz`` (not committed; see
``training.real_photos``). A bottom-up recipe that trains on real photos (``openpose_coco``)
reads them to mask the people its datasets leave unlabelled, the detector-box sets
(``training.box_people``) crop them, and both stop with an error naming this command when they
are missing. ``--split val`` boxes the validation photos into ``FOLDER/<source>_val.npz``: those
boxes only score the detector crops of labelled validation people during training, never teach.
Resumable: a killed run keeps its finished chunks.

    python -m tools.person_boxes [coco_photos mpii_photos] [--split train|val] [--folder runs/person_boxes]
"""

from __future__ import annotations

import argparse
import sys

from tools._cli import run

SOURCES = ("coco_photos", "mpii_photos")  # training.real_photos.SOURCES, without importing it for --help


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.person_boxes", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="*", metavar="SOURCE",
                   help=f"photo sources, of {', '.join(SOURCES)} (default: all)")
    p.add_argument("--folder", default="runs/person_boxes",
                   help="where the box files go (a run reads person_boxes/ beside its workdir)")
    p.add_argument("--data", help="data root (default: $POSEZOO_DATA)")
    p.add_argument("--split", choices=("train", "val"), default="train",
                   help="the photos to box: training (default), or validation (for scoring only)")
    args = p.parse_args(argv)
    unknown = sorted(set(args.sources) - set(SOURCES))
    if unknown:
        p.error(f"unknown sources {unknown}; choose from {list(SOURCES)}")
    args.sources = args.sources or list(SOURCES)

    from training.real_photos import boxes_path, detect_photos, load_source, read_person_boxes, unlabelled_boxes

    for name in args.sources:
        photos = load_source(name, args.data, args.split)
        path = detect_photos(photos, boxes_path(args.folder, name, args.split))
        found = read_person_boxes(path)
        masked = sum(len(unlabelled_boxes(*found[int(i)], people)) for i, people in zip(photos.image_ids, photos.boxes))
        boxes = sum(len(b) for b, _ in found.values())
        print(f"{name} ({args.split}): {len(photos)} photos, {boxes} boxes, {masked} unlabelled people to mask, "
              f"in {path}")
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
