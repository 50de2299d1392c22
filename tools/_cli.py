"""Shared CLI plumbing: quiet TF logs, clear one-line errors instead of tracebacks."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def run(main, argv=None) -> int:
    """Runs ``main(argv)``; known user errors print ``error: ...`` and exit 2."""
    from training.datasets.base import DatasetError
    from zoo.io import ImageError
    from zoo.registry import ModelNotFoundError, WeightsIntegrityError, WeightsNotPublishedError

    known = (ModelNotFoundError, WeightsNotPublishedError, WeightsIntegrityError, ImageError,
             DatasetError, FileNotFoundError, FileExistsError, PermissionError, ValueError)
    try:
        return main(argv) or 0
    except known as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
