"""Reads a legacy (pre-zip, PyTorch < 1.6) ``torch.save`` file of tensors with ``pickle`` and NumPy.

The format (``torch/serialization.py``, ``_legacy_load``): four pickles in a row -- the magic
number ``0x1950a86a20f9469cfc6c``, the protocol version 1001, system information (endianness,
type sizes), the object itself (tensors refer to storages through ``persistent_load`` ids
``("storage", storage type, key, location, numel, view)`` and are rebuilt by
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)``) -- then the list of
storage keys, then each storage's raw data: an int64 element count and the elements,
little-endian. No torch is needed; only the classes a state dict uses are allowed to unpickle.
"""

from __future__ import annotations

import pickle
import struct
from collections import OrderedDict
from pathlib import Path
from typing import Dict

import numpy as np

MAGIC = 0x1950A86A20F9469CFC6C
PROTOCOL = 1001
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
           "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}


class TorchFileError(ValueError):
    """The file is not a readable legacy PyTorch state dict."""


class _Storage:
    def __init__(self, dtype, numel: int):
        self.dtype, self.numel, self.data = np.dtype(dtype), int(numel), None


class _StorageType:
    def __init__(self, name: str):
        self.name = name


class _Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, int(offset), tuple(size), tuple(stride)

    def numpy(self) -> np.ndarray:
        data = self.storage.data
        item = data.itemsize
        view = np.lib.stride_tricks.as_strided(data[self.offset:], shape=self.size,
                                               strides=tuple(s * item for s in self.stride))
        return np.array(view)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *unused):
    return _Tensor(storage, storage_offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def __init__(self, file):
        super().__init__(file)
        self.storages: Dict[str, _Storage] = {}

    def find_class(self, module, name):
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        raise pickle.UnpicklingError(f"unexpected class {module}.{name} in a state dict")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r}")
        _, storage_type, key, _location, numel = pid[:5]
        if key not in self.storages:
            self.storages[key] = _Storage(_DTYPES[storage_type.name], numel)
        return self.storages[key]


def read_state_dict(path) -> "OrderedDict[str, np.ndarray]":
    """The tensors of a legacy ``torch.save(state_dict)`` file, as NumPy arrays by name.

    Raises ``TorchFileError`` naming the file when it is missing, truncated or not in that format.
    """
    path = Path(path)
    if not path.is_file():
        raise TorchFileError(f"{path}: no such file")
    try:
        with open(path, "rb") as f:
            magic, protocol = pickle.load(f), pickle.load(f)
            if magic != MAGIC or protocol != PROTOCOL:
                raise TorchFileError(f"{path}: not a legacy PyTorch file (magic {magic!r}, protocol {protocol!r})")
            info = pickle.load(f)
            if not info.get("little_endian", True):
                raise TorchFileError(f"{path}: big-endian files are not supported")
            unpickler = _Unpickler(f)
            state = unpickler.load()
            keys = pickle.load(f)
            for key in keys:
                storage = unpickler.storages[key]
                header = f.read(8)
                if len(header) < 8:
                    raise TorchFileError(f"{path}: truncated (storage {key} has no data)")
                (count,) = struct.unpack("<q", header)
                raw = f.read(count * storage.dtype.itemsize)
                if count != storage.numel or len(raw) != count * storage.dtype.itemsize:
                    raise TorchFileError(f"{path}: truncated or corrupted (storage {key}: {len(raw)} bytes "
                                         f"of {storage.numel * storage.dtype.itemsize})")
                storage.data = np.frombuffer(raw, storage.dtype)
    except TorchFileError:
        raise
    except (pickle.UnpicklingError, EOFError, KeyError, AttributeError, TypeError, ValueError) as e:
        raise TorchFileError(f"{path}: unreadable or corrupted PyTorch file ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict):
        raise TorchFileError(f"{path}: holds a {type(state).__name__}, not a state dict")
    return OrderedDict((name, t.numpy() if isinstance(t, _Tensor) else np.asarray(t)) for name, t in state.items())
