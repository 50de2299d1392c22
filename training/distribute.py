"""Picks the tf.distribute strategy from the machine."""

from __future__ import annotations

import json
import os

import tensorflow as tf


def choose_strategy(kind: str = "auto") -> tf.distribute.Strategy:
    """``auto``: MultiWorkerMirrored when ``TF_CONFIG`` names several workers, Mirrored on more
    than one GPU, OneDevice on one GPU, else the default strategy (one CPU)."""
    if kind not in ("auto", "default", "mirrored", "multiworker"):
        raise ValueError(f"Unknown strategy {kind!r}; use auto, default, mirrored or multiworker")
    tf_config = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    workers = tf_config.get("cluster", {}).get("worker", [])
    if kind == "multiworker" or (kind == "auto" and len(workers) > 1):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "mirrored" or (kind == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    if kind == "auto" and len(gpus) == 1:
        return tf.distribute.OneDeviceStrategy("/gpu:0")
    return tf.distribute.get_strategy()


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """True on the worker that writes checkpoints and logs."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    task_type, task_id = resolver.task_type, resolver.task_id
    return task_type == "chief" or (task_type == "worker" and task_id == 0
                                    and "chief" not in resolver.cluster_spec().as_dict())


def worker_dir(path: str, strategy: tf.distribute.Strategy) -> str:
    """``path`` on the chief; a private sub-folder on other workers (whose writes are discarded)."""
    if is_chief(strategy):
        return path
    resolver = strategy.cluster_resolver
    return os.path.join(path, ".workers", f"{resolver.task_type}_{resolver.task_id}")
