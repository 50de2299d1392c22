"""Compact resume checkpoints: a Keras ``BackupAndRestore`` folder small enough to commit.

A backup (``backup/latest.weights.h5`` + ``training_metadata.json``) holds the model weights and
the whole Adam state: the step counter (and the learning rate, when it is a constant rather than a schedule), then
per trainable variable a first moment (momentum)
and a second moment (velocity), interleaved in that order (``keras.optimizers.Optimizer.
add_optimizer_variables``). That is three times the weights: 50 MB for SimpleBaseline-Lite0.
``pack_backup`` keeps what a resumed run needs to continue on the same schedule:

- the model weights, the step counter and a constant learning rate, unchanged;
- the velocities in bfloat16 (float32's range, so the tiny second moments do not underflow as
  they would in float16; 8 bits of mantissa: about 0.2 % on each step size);
- the momenta dropped (written back as zeros): with ``beta_1 = 0.9`` the first moment is rebuilt
  in about 10 steps, whereas a zeroed velocity (``beta_2 = 0.999``, ~1,000 steps of memory)
  would turn the next steps into sign steps at the full learning rate.

``unpack_backup`` writes a regular backup folder again, which ``training.train`` resumes as usual.
The result is one file of about 1.5x the weights (``python -m tools.checkpoint``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

WEIGHTS_FILE = "latest.weights.h5"
METADATA_FILE = "training_metadata.json"
PACKED_FORMAT = "posezoo-adam-v1: momenta dropped, velocities bfloat16"


class CheckpointError(ValueError):
    """A backup or packed checkpoint folder is missing, incomplete or not of the expected form."""


def _to_bfloat16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> the upper 16 bits, rounded to nearest even (bfloat16 as uint16)."""
    bits = np.ascontiguousarray(x, np.float32).view(np.uint32)
    rounding = ((bits >> 16) & 1) + np.uint32(0x7FFF)
    return ((bits + rounding) >> 16).astype(np.uint16)


def _from_bfloat16_bits(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def _optimizer_vars(h5, path: Path):
    if "optimizer" not in h5 or "vars" not in h5["optimizer"]:
        raise CheckpointError(f"{path}: no optimizer state (group 'optimizer/vars'); "
                              "not a BackupAndRestore checkpoint of a compiled model")
    return h5["optimizer"]["vars"]


def _leading_scalars(opt, path: Path) -> int:
    """Number of optimizer variables before the momentum/velocity pairs: the step counter, plus
    the learning rate when it is a variable (a constant, not a schedule)."""
    n = len(opt)
    lead = 1 if n % 2 else 2
    if n < lead + 2 or any(opt[str(i)].shape != () for i in range(lead)):
        raise CheckpointError(f"{path}: {n} optimizer variables do not look like Adam's state (the step "
                              "counter, an optional learning rate, then a momentum/velocity pair per "
                              "trainable variable)")
    return lead


def _copy_model_part(src, dst) -> None:
    """Every group and dataset but ``optimizer``, with attributes."""
    for key, value in src.attrs.items():
        dst.attrs[key] = value
    for name in src:
        if name != "optimizer":
            src.copy(src[name], dst, name=name)


def pack_backup(backup_dir, out_dir) -> Path:
    """Packs ``backup_dir`` (``BackupAndRestore``'s folder) into ``out_dir``; returns the packed
    weights file. Raises ``CheckpointError`` naming the file when the backup is incomplete or
    its optimizer state is not Adam's (step counter + momentum/velocity pairs)."""
    import h5py

    from zoo.io import atomic_path, write_atomic

    backup_dir, out_dir = Path(backup_dir), Path(out_dir)
    src_path, meta_path = backup_dir / WEIGHTS_FILE, backup_dir / METADATA_FILE
    for p in (src_path, meta_path):
        if not p.is_file():
            raise CheckpointError(f"{p}: missing; a backup folder holds {WEIGHTS_FILE} and {METADATA_FILE}")
    metadata = json.loads(meta_path.read_text())
    out_dir.mkdir(parents=True, exist_ok=True)
    dst_path = out_dir / WEIGHTS_FILE
    with h5py.File(src_path, "r") as src:
        opt = _optimizer_vars(src, src_path)
        n = len(opt)
        lead = _leading_scalars(opt, src_path)
        with atomic_path(dst_path) as tmp, h5py.File(tmp, "w") as dst:
            _copy_model_part(src, dst)
            group = dst.create_group("optimizer")
            for key, value in src["optimizer"].attrs.items():
                group.attrs[key] = value
            group.attrs["packed"] = PACKED_FORMAT
            packed = group.create_group("vars")
            for i in range(lead):
                packed.create_dataset(str(i), data=opt[str(i)][()])
            for i in range(lead, n, 2):
                momentum, velocity = opt[str(i)], opt[str(i + 1)]
                if momentum.shape != velocity.shape:
                    raise CheckpointError(f"{src_path}: optimizer variables {i} {momentum.shape} and {i + 1} "
                                          f"{velocity.shape} are not a momentum/velocity pair")
                packed.create_dataset(str(i + 1), data=_to_bfloat16_bits(velocity[()]))
            packed.attrs["count"] = n
            packed.attrs["leading"] = lead
    write_atomic(out_dir / METADATA_FILE, json.dumps(metadata))
    return dst_path


def unpack_backup(packed_dir, backup_dir) -> Path:
    """Writes a ``BackupAndRestore`` folder ``backup_dir`` from a packed one (``pack_backup``):
    weights and step counter as saved, velocities back to float32, momenta zero."""
    import h5py

    from zoo.io import atomic_path

    packed_dir, backup_dir = Path(packed_dir), Path(backup_dir)
    src_path = packed_dir / WEIGHTS_FILE
    if not src_path.is_file():
        raise CheckpointError(f"{src_path}: missing (make it with python -m tools.checkpoint pack)")
    backup_dir.mkdir(parents=True, exist_ok=True)
    dst_path = backup_dir / WEIGHTS_FILE
    with h5py.File(src_path, "r") as src:
        opt = _optimizer_vars(src, src_path)
        if src["optimizer"].attrs.get("packed") != PACKED_FORMAT:
            raise CheckpointError(f"{src_path}: not a packed checkpoint (attribute optimizer.packed "
                                  f"is {src['optimizer'].attrs.get('packed')!r}, expected {PACKED_FORMAT!r})")
        n, lead = int(opt.attrs["count"]), int(opt.attrs["leading"])
        with atomic_path(dst_path) as tmp, h5py.File(tmp, "w") as dst:
            _copy_model_part(src, dst)
            group = dst.create_group("optimizer")
            for key, value in src["optimizer"].attrs.items():
                if key != "packed":
                    group.attrs[key] = value
            out = group.create_group("vars")
            for i in range(lead):
                out.create_dataset(str(i), data=opt[str(i)][()])
            for i in range(lead, n, 2):
                velocity = _from_bfloat16_bits(opt[str(i + 1)][()])
                out.create_dataset(str(i), data=np.zeros_like(velocity))
                out.create_dataset(str(i + 1), data=velocity)
    shutil.copyfile(packed_dir / METADATA_FILE, backup_dir / METADATA_FILE)
    return dst_path
