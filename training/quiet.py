"""A quiet start for command-line programs: TensorFlow's C++ start-up lines (oneDNN, CUDA stubs,
cuInit, which a user reads as errors), the converter's native prints and the Python warnings meant
for the library's authors are hidden; ``verbose`` shows them. Used by ``training.train`` and the
``tools`` CLIs. Nothing heavy is imported here."""

from __future__ import annotations

import contextlib
import os
import sys
import warnings

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
