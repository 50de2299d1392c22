"""Packs a training run's resume checkpoint small enough to commit, and unpacks it to resume.

    python -m tools.checkpoint pack runs/simplebaseline_lsp/backup checkpoints/simplebaseline_lsp/backup
    python -m tools.checkpoint unpack checkpoints/simplebaseline_lsp/backup runs/simplebaseline_lsp/backup

A packed folder keeps the weights and the step counter exactly, the Adam velocities in bfloat16,
and drops the momenta (rebuilt in ~10 steps): see ``training.checkpoints``.
"""

from __future__ import annotations

import argparse
import sys

from tools._cli import run


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tools.checkpoint", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["pack", "unpack"])
    p.add_argument("source", help="pack: a BackupAndRestore folder; unpack: a packed folder")
    p.add_argument("destination", help="pack: the packed folder; unpack: the run's backup folder")
    args = p.parse_args(argv)
    from training.checkpoints import pack_backup, unpack_backup

    written = (pack_backup if args.action == "pack" else unpack_backup)(args.source, args.destination)
    print(f"wrote {written} ({written.stat().st_size / 1e6:.1f} MB)")
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
