"""tf.distribute helpers: the strategy chosen from the machine, the chief and its folder, means
over replicas, training streams without auto-sharding, and what Keras needs to ``fit`` under
MultiWorkerMirroredStrategy."""

from __future__ import annotations

import json
import os

import numpy as np
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


def replica_mean(strategy: tf.distribute.Strategy, arrays):
    """Mean of each NumPy array over the replicas of ``strategy`` (float64): statistics that each
    worker measured on its own batches, made the same on every worker."""
    def replica_fn():
        ctx = tf.distribute.get_replica_context()
        return ctx.all_reduce(tf.distribute.ReduceOp.MEAN, [tf.constant(a, tf.float64) for a in arrays])

    out = strategy.run(tf.function(replica_fn))
    return [np.asarray(strategy.experimental_local_results(o)[0]) for o in out]


def unsharded(ds: tf.data.Dataset) -> tf.data.Dataset:
    """An infinite random training stream without tf.distribute's auto-sharding.

    The sources are lists of paths, not file readers, so FILE sharding is impossible; AUTO would
    fall back to DATA, where every worker decodes and augments every global batch and keeps only
    its share -- twice the input work, and not even a partition, since each worker shuffles in
    its own random order. With OFF each worker draws its own random stream of (per-replica)
    batches from the infinite shuffled dataset."""
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.with_options(options)


def prepare_fit(model, strategy: tf.distribute.Strategy, element_spec) -> None:
    """Lets Keras 3 ``model.fit`` train under ``MultiWorkerMirroredStrategy``; no-op otherwise.

    Call after ``compile``. Keras 3 (3.15 included; keras-team/keras#20585, tensorflow#72388)
    does not run ``fit`` under MultiWorkerMirroredStrategy, for two reasons worked around here
    for this model only:

    * ``fit`` starts by all-reducing the first *data batch* across replicas just to learn its
      shapes (``Trainer._maybe_symbolic_build``); a nested batch ``(images, heatmaps, weights)``
      cannot be reduced ("Attempt to convert a value (PerReplica ...) to a Tensor"). The model,
      its compiled loss and the optimizer are built here from ``element_spec`` instead and that
      probe is skipped.
    * with several workers, the step's logs are reduced with ``strategy.reduce("MEAN", v,
      axis=0)``, which fails on the scalar loss ("Invalid reduction dimension 0 for input with 0
      dimensions"). ``train_step`` returns its logs as shape ``(1,)``, so that reduction is the
      mean over all replicas, a scalar again.

    Gradients are all-reduced by the optimizer as usual; only the shape probe and the logging
    reduction are touched. Relies on Keras internals (``_symbolic_build``,
    ``_maybe_symbolic_build``); tests/training/test_multiworker.py checks it still works.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    import keras

    batch = tf.nest.map_structure(lambda s: keras.KerasTensor(s.shape, s.dtype.name), element_spec)
    with strategy.scope():
        model._symbolic_build(data_batch=batch)
    model._maybe_symbolic_build = lambda iterator=None, data_batch=None: None
    if strategy.num_replicas_in_sync <= len(strategy.extended.worker_devices):
        return  # one worker: Keras reduces the logs locally
    train_step = model.train_step

    def train_step_rank1_logs(data):
        return tf.nest.map_structure(lambda v: tf.reshape(v, [1]), train_step(data))

    model.train_step = train_step_rank1_logs
