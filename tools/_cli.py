"""Shared CLI plumbing: quiet TF logs, clear one-line errors instead of tracebacks."""

from __future__ import annotations

import contextlib
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def quiet_tensorflow_start():
    """Imports TensorFlow and probes its devices with the C++ stderr silenced.

    TF 2.21 prints start-up lines (oneDNN, CUDA stubs, cuInit) from C++ before its logging is
    initialised, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them; the only way is to point file
    descriptor 2 elsewhere while they are printed. A failing import is re-raised afterwards.
    Set ``POSEZOO_TF_LOGS=1`` to see them.
    """
    if os.environ.get("POSEZOO_TF_LOGS") or "tensorflow" in sys.modules:
        return
    with silenced_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()


@contextlib.contextmanager
def silenced_stderr():
    """File descriptor 2 pointed at /dev/null while the block runs: silences what C / C++
    libraries print themselves (TensorFlow's start-up, OpenCV's and FFmpeg's warnings), which no
    Python setting reaches. Exceptions still propagate."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def run(main, argv=None) -> int:
    """Runs ``main(argv)``; known user errors print ``error: ...`` and exit 2."""
    quiet_tensorflow_start()
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


def save_report(report, spec, name: str, output=None, record: bool = False) -> None:
    """``--output``: writes the report JSON there; ``--record``: stores it with the published
    version ``spec`` as measurement ``name`` and regenerates its model card."""
    if output:
        from tools.files import write_json

        write_json(output, report)
    if record:
        from zoo.model_card import record_measurement

        print(f"recorded {record_measurement(spec, name, report)}")

