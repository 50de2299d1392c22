"""JSON output of the CLIs."""

from __future__ import annotations

import json
from pathlib import Path


def write_json(path, obj) -> Path:
    """Writes ``obj`` as indented JSON to ``path`` atomically (``zoo.io.write_atomic``)."""
    from zoo.io import write_atomic

    return write_atomic(path, json.dumps(obj, indent=2) + "\n")
