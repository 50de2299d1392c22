"""Finds the people in the training photos of the real-photo sources with the person detector
(``person-detector``), once, into ``FOLDER/<source>.npz`` (not committed; see
``training.real_photos``). A bottom-up recipe that trains on real photos (``openpose_coco``)
reads them to mask the people its datasets leave unlabelled, and stops with an error naming this
command when they are missing. Resumable: a killed run keeps its finished chunks.

    python -m tools.person_boxes [coco_photos mpii_photos] [--folder runs/person_boxes]
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
    args = p.parse_args(argv)
    unknown = sorted(set(args.sources) - set(SOURCES))
    if unknown:
        p.error(f"unknown sources {unknown}; choose from {list(SOURCES)}")
    args.sources = args.sources or list(SOURCES)

    from training.real_photos import boxes_path, detect_photos, load_source, read_person_boxes, unlabelled_boxes

    for name in args.sources:
        photos = load_source(name, args.data, "train")  # training photos only: the validation split is never looked at
        path = detect_photos(photos, boxes_path(args.folder, name))
        found = read_person_boxes(path)
        masked = sum(len(unlabelled_boxes(*found[int(i)], people)) for i, people in zip(photos.image_ids, photos.boxes))
        print(f"{name}: {len(photos)} photos, {sum(len(b) for b, _ in found.values())} boxes, {masked} unlabelled "
              f"people to mask, in {path}")
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
