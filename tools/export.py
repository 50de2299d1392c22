"""Exports a published zoo model with decoding inside the graph.

    python -m tools.export hourglass-lsp --output exports     # exports/hourglass-lsp/1/ (SavedModel)
"""

from __future__ import annotations

import argparse
import sys

from tools._cli import run


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m tools.export", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="zoo name[@version]")
    p.add_argument("--output", default="exports", help="root folder of the versioned exports")
    p.add_argument("--format", default="saved_model", choices=["saved_model"])
    p.add_argument("--overwrite", action="store_true", help="replace an existing export folder")
    args = p.parse_args(argv)
    from edge.export import export_saved_model

    path = export_saved_model(args.model, args.output, overwrite=args.overwrite)
    print(path)
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
