"""Reading MATLAB struct files (the FLIC and MPII releases) as
``scipy.io.loadmat(struct_as_record=False, squeeze_me=True)`` returns them.

``squeeze_me`` makes the layout ragged: a struct array of one element comes back as a bare
``mat_struct``, one of several as an object array of them and an empty one as an empty array; a
1x1 cell as its content. ``items`` undoes that. Every accessor takes ``where`` (file and record,
in MATLAB's own 1-based notation, e.g. ``RELEASE.annolist(7).annorect(2)``) so that a malformed
file raises ``DatasetError`` naming the file, the record and the field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, List

import numpy as np

from training.datasets.base import DatasetError


def is_struct(value) -> bool:
    from scipy.io.matlab import mat_struct

    return isinstance(value, mat_struct)


def load_variable(path: Path, variable: str, what: str, hint: str = "") -> Any:
    """Variable ``variable`` of the MATLAB file ``path``, loaded with ``struct_as_record=False,
    squeeze_me=True``. A missing file raises ``FileNotFoundError``, an unreadable one or one
    without ``variable`` ``DatasetError``, each naming the file (``what`` says which dataset)."""
    import scipy.io

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} annotations not found: {path}{hint}")
    try:
        mat = scipy.io.loadmat(str(path), struct_as_record=False, squeeze_me=True)
    except Exception as e:  # scipy raises several types for damaged files
        raise DatasetError(f"{path}: not a readable MATLAB file ({type(e).__name__}: {e})") from None
    if variable not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise DatasetError(f"{path}: no variable {variable!r} (found {keys}); not the {what} release file?")
    return mat[variable]


def items(value) -> List[Any]:
    """The elements of a (squeezed) struct array or cell: ``[]`` for an empty one, ``[s]`` for a
    bare struct or scalar, the elements of an object array otherwise."""
    if isinstance(value, np.ndarray):
        if value.dtype == object:
            return list(value.ravel())
        if value.size == 0:
            return []
    return [value]


def field(struct, name: str, where: str) -> Any:
    """``struct.<name>``; raises naming ``where`` and the field when it is not a struct or lacks it."""
    if not is_struct(struct):
        raise DatasetError(f"{where}: expected a struct with field {name!r}, got {type(struct).__name__}")
    if name not in struct._fieldnames:
        raise DatasetError(f"{where}: missing field {name!r} (fields: {list(struct._fieldnames)})")
    return getattr(struct, name)


def has_content(struct, name: str) -> bool:
    """Whether ``struct`` has field ``name`` and it is not MATLAB's empty ``[]``."""
    if not is_struct(struct) or name not in struct._fieldnames:
        return False
    value = getattr(struct, name)
    return not (isinstance(value, np.ndarray) and value.size == 0)


def number(value, where: str, name: str) -> float:
    """A finite real scalar (a number, a 1-element array or a numeric string)."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            raise DatasetError(f"{where}: field {name!r} must be a number, got {value!r}") from None
    arr = np.asarray(value)
    if arr.size != 1 or arr.dtype.kind not in "biuf":
        shown = "empty" if arr.size == 0 else repr(value)[:60]
        raise DatasetError(f"{where}: field {name!r} must be one number, got {shown}")
    out = float(arr.reshape(()))
    if not np.isfinite(out):
        raise DatasetError(f"{where}: field {name!r} is not finite ({out})")
    return out


def text(value, where: str, name: str) -> str:
    """A non-empty string field."""
    if isinstance(value, np.ndarray) and value.size == 1 and value.dtype.kind in "US":
        value = str(value.reshape(()))
    if not isinstance(value, str) or not value:
        shown = "empty" if isinstance(value, (str, np.ndarray)) and len(value) == 0 else repr(value)[:60]
        raise DatasetError(f"{where}: field {name!r} must be a file name, got {shown}")
    return value
