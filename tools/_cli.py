"""Shared CLI plumbing: a quiet start-up, clear one-line errors instead of tracebacks, and no
empty folders left behind by a run that fails.

Nothing heavy is imported here (no NumPy, no TensorFlow): a CLI parses its arguments first
(``--help`` answers at once), then calls ``quiet_tensorflow_start``.
"""

from __future__ import annotations

import contextlib
import os
import sys
import warnings
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

#: Python warnings the CLIs hide (they concern the library's authors, not the user); ``--verbose``
#: shows them. Each is a regular expression matched against the start of the message.
QUIET_WARNINGS = (
    r".*tf\.lite\.Interpreter is deprecated",      # TF's converter calibrates through it itself
    r"Your input ran out of data",
    r".*`shuffle=True`",                            # Keras, on a tf.data input it does not shuffle
    r".*Skipping variable loading for optimizer",
    r"Compiled the loaded model, but the compiled metrics have yet to be built",
)


def quiet_startup(verbose: bool = False) -> None:
    """Before TensorFlow is imported: its C++ log level (errors only: the CUDA probe on a
    machine without a GPU is logged as an error) and the Python warnings of ``QUIET_WARNINGS``.
    ``verbose``: everything is shown (TensorFlow's default level, no filters)."""
    if verbose:
        os.environ["POSEZOO_TF_LOGS"] = "1"
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
        return
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    for message in QUIET_WARNINGS:
        warnings.filterwarnings("ignore", message=message)


def quiet_tensorflow_start(verbose: bool = False):
    """Imports TensorFlow and probes its devices with the C++ stderr silenced.

    TF 2.21 prints start-up lines (oneDNN, CUDA stubs, cuInit) from C++ before its logging is
    initialised, so ``TF_CPP_MIN_LOG_LEVEL`` cannot hide them; the only way is to point file
    descriptor 2 elsewhere while they are printed. A failing import is re-raised afterwards.
    ``verbose`` or ``POSEZOO_TF_LOGS=1``: they are shown.
    """
    quiet_startup(verbose)
    if os.environ.get("POSEZOO_TF_LOGS") or "tensorflow" in sys.modules:
        return
    with silenced_stderr():
        import tensorflow as tf

        tf.config.list_physical_devices()
    import absl.logging

    absl.logging.set_verbosity(absl.logging.ERROR)


@contextlib.contextmanager
def silenced_stderr(python_too: bool = True):
    """File descriptor 2 pointed at /dev/null while the block runs: silences what C / C++
    libraries print themselves (TensorFlow's start-up, the TFLite converter's ``fully_quantize``
    line, OpenCV's and FFmpeg's warnings), which no Python setting reaches. ``python_too=False``
    keeps Python's own ``sys.stderr`` (progress lines, errors) on the real stderr. Exceptions
    still propagate."""
    sys.stderr.flush()
    saved = os.dup(2)
    python_stderr, own = sys.stderr, None
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            if not python_too:
                own = sys.stderr = os.fdopen(os.dup(saved), "w", buffering=1)
            try:
                yield
            finally:
                if own is not None:
                    own.flush()
                    sys.stderr = python_stderr
                    own.close()
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def quiet_native(verbose: bool = False):
    """``silenced_stderr(python_too=False)``, or nothing when ``verbose``: around a call whose C++
    prints lines the user need not read (e.g. the TFLite converter)."""
    return contextlib.nullcontext() if verbose else silenced_stderr(python_too=False)


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
