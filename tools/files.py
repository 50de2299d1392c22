"""Atomic file writing for the CLIs."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path


def write_json(path, obj) -> Path:
    """Writes ``obj`` as JSON to ``path`` through a temp file + rename (nothing half-written)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
