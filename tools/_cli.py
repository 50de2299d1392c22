"""Shared CLI plumbing: a quiet start-up, clear one-line errors instead of tracebacks, and no
empty folders left behind by a run that fails.

Nothing heavy is imported here (no NumPy, no TensorFlow): a CLI parses its arguments first
(``--help`` answers at once), then calls ``quiet_tensorflow_start``.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from training.quiet import QUIET_WARNINGS, quiet_native, quiet_startup, quiet_tensorflow_start, silenced_stderr  # noqa: F401


def check_writable_folder(folder) -> Path:
    """Raises ``PermissionError`` (one line) unless ``folder`` is, or can be created as, a
    writable folder: checked before a model loads, so a bad ``--output`` fails in a second, not
    after the work. Creates nothing."""
    folder = Path(folder)
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise PermissionError(f"output folder {folder}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK | os.X_OK):
        where = "" if probe == folder else f" ({probe} cannot be written, so it cannot be created)"
        raise PermissionError(f"output folder {folder} is not writable{where}")
    return folder


@contextlib.contextmanager
def removing_created_folders(*folders):
    """Folders among ``folders`` (and their parents) that do not exist yet are removed again when
    the block fails or is interrupted, if they are still empty: a run stopped before writing
    leaves nothing behind, a run stopped after some results keeps them."""
    created = []
    for folder in folders:
        folder = Path(folder)
        top = None
        for candidate in [folder, *folder.parents]:
            if candidate.exists():
                break
            top = candidate
        if top is not None:
            created.append(top)
    try:
        yield
    except BaseException:
        for top in created:
            if top.is_dir():
                for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -len(Path(w[0]).parts)):
                    with contextlib.suppress(OSError):
                        os.rmdir(dirpath)  # only empty folders go
        raise


def _known_errors():
    from training.datasets.base import DatasetError
    from zoo.io import ImageError
    from zoo.registry import ModelNotFoundError, WeightsIntegrityError, WeightsNotPublishedError

    return (ModelNotFoundError, WeightsNotPublishedError, WeightsIntegrityError, ImageError,
            DatasetError, FileNotFoundError, FileExistsError, PermissionError, ValueError)


def run(main, argv=None, start_tensorflow: bool = True) -> int:
    """Runs ``main(argv)``; known user errors print ``error: ...`` and exit 2.

    ``start_tensorflow``: TensorFlow is imported quietly first (``quiet_tensorflow_start``);
    False for a CLI that parses its arguments before and starts it itself."""
    if start_tensorflow:
        quiet_tensorflow_start()
    try:
        return main(argv) or 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as e:
        if not isinstance(e, _known_errors()):
            raise
        print(f"error: {e}", file=sys.stderr)
        return 2


def model_name(text):
    """A ``--model`` value as the zoo spells names (lower case: ``Hourglass-LSP`` is
    ``hourglass-lsp``); an unknown name gets the closest known ones suggested. None stays None."""
    if text is None:
        return None
    import difflib

    from zoo.registry import ModelNotFoundError, known_names, parse_name

    name = text.strip().lower()
    base, _ = parse_name(name)
    names = known_names()
    if base not in names:
        close = difflib.get_close_matches(base, names, n=3, cutoff=0.8)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise ModelNotFoundError(f"unknown model {text!r}{hint}. Known models: {', '.join(names)}")
    return name


def save_report(report, spec, name: str, output=None, record: bool = False) -> None:
    """``--output``: writes the report JSON there; ``--record``: stores it with the published
    version ``spec`` as measurement ``name`` and regenerates its model card."""
    if output:
        from tools.files import write_json

        write_json(output, report)
    if record:
        from zoo.model_card import record_measurement

        print(f"recorded {record_measurement(spec, name, report)}")


def detector_tflite_file(precision: str, exports, verbose: bool = False, log=print):
    """The person detector and its TFLite file in ``exports`` (exported once, as ``python -m
    tools.export person-detector`` writes it), in the pose file's ``precision`` where the detector
    has a file of that precision, else float32. Returns ``(detector, precision, path)``."""
    from edge.detector_tflite import PRECISIONS, cached_detector_tflite
    from edge.exporter import artifact_path
    from zoo.detectors import load_detector

    detector = load_detector()
    precision = precision if precision in PRECISIONS else "float32"
    folder = artifact_path(detector.spec, exports, "tflite", precision).parent
    with removing_created_folders(folder), quiet_native(verbose):
        return detector, precision, cached_detector_tflite(detector, precision, exports, log=log)
