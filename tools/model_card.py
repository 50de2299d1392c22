"""Regenerates model cards from the published ``model.json`` files (measured results only).

    python -m tools.model_card              # every published version
    python -m tools.model_card hourglass-lsp@1
"""

from __future__ import annotations

import argparse
import sys

from tools._cli import run


def main(argv=None):
    import zoo
    from zoo.model_card import write_model_card

    p = argparse.ArgumentParser(prog="python -m tools.model_card", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("models", nargs="*", help="name@version (default: all published)")
    args = p.parse_args(argv)
    for name in args.models or zoo.list_models(published_only=True):
        print(write_model_card(zoo.get_spec(name)))
    return 0


def cli():
    sys.exit(run(main))


if __name__ == "__main__":
    cli()
