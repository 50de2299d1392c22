"""Labels the training people of single-person datasets with the teacher (MoveNet Thunder, COCO-17),
original and mirrored crops averaged, into ``FOLDER/<dataset>.npz`` (not committed; see
``training.teacher_labels``). A training run whose recipe uses the teacher makes what is missing
itself; this precomputes it, resumably (a killed run keeps its finished chunks).

    python -m tools.teacher_labels lspet mpii_subset coco_people coco_boxes mpii_boxes [--folder runs/teacher_labels]
"""

from __future__ import annotations

import argparse
import sys

from tools._cli import run


def main(argv=None) -> int:
    from training.datasets import person_dataset_names

    p = argparse.ArgumentParser(prog="python -m tools.teacher_labels", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("datasets", nargs="+", choices=person_dataset_names(), help="datasets to label")
    p.add_argument("--folder", default="runs/teacher_labels", help="where the label files go")
    p.add_argument("--split", default="train", choices=["train", "val"])
    p.add_argument("--data", help="data root (default: $POSEZOO_DATA)")
    args = p.parse_args(argv)

    from training.datasets import load_person_dataset
    from training.teacher import MoveNetThunder
    from training.teacher_labels import label_path, label_samples

    teacher = MoveNetThunder()
    for name in args.datasets:
        samples = load_person_dataset(name, args.split, args.data)
        stem = name if args.split == "train" else f"{name}_{args.split}"
        path = label_samples(samples, teacher, label_path(args.folder, stem))
        print(f"{name}: {len(samples)} people labelled in {path}")
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
