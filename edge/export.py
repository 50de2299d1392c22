"""Versioned SavedModel export with the post-processing (heatmap decoding) inside the graph.

    python -m tools.export hourglass-lsp --output exports

writes ``exports/hourglass-lsp/1/`` (a SavedModel) with a ``serving_default`` signature
``images: uint8 (N, S, S, 3) RGB -> {"keypoints": float32 (N, K, 2) input pixels,
"scores": float32 (N, K)}`` and ``metadata.json`` beside ``saved_model.pb``. The folder is
written to a temporary name and renamed, so a failed export leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Dict, Optional

import zoo
from zoo.registry import ModelSpec

METADATA_FILE = "metadata.json"


def model_metadata(spec: ModelSpec, **extra) -> Dict:
    """What every exported artifact records about its model."""
    from zoo.skeletons import get_skeleton

    skeleton = get_skeleton(spec.skeleton)
    return {
        "name": spec.name,
        "version": spec.version,
        "architecture": spec.architecture,
        "weights_sha256": spec.weights.sha256 if spec.weights else None,
        "skeleton": skeleton.to_dict(),
        "input": {"shape": [spec.input_size, spec.input_size, 3], "dtype": "uint8",
                  "layout": "NHWC RGB", "normalisation": spec.normalisation},
        "outputs": {"keypoints": "float32 (N, K, 2): x, y in input pixels (pixel centres at integers)",
                    "scores": "float32 (N, K): heatmap maximum per joint"},
        "codec": spec.codec,
        "training": spec.weights.training if spec.weights else None,
        "metrics": spec.weights.metrics if spec.weights else None,
        "paper": spec.paper,
        "zoo_version": zoo.__version__,
        **extra,
    }


def _atomic_dir(final: Path, overwrite: bool):
    if final.exists() and not overwrite:
        raise FileExistsError(f"{final} already exists; a published version never changes "
                              "(pass overwrite=True / --overwrite to replace the export)")
    final.parent.mkdir(parents=True, exist_ok=True)
    if not os.access(final.parent, os.W_OK):
        raise PermissionError(f"output directory {final.parent} is not writable")
    return Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp.", dir=final.parent))


def write_saved_model(model, folder, input_spec=None) -> None:
    """Writes ``model`` as a SavedModel whose ``serving_default`` is ``images -> {"keypoints",
    "scores"}`` with the decoding inside (``keras.export.ExportArchive`` tracks the variables)."""
    import keras
    import tensorflow as tf

    s = model.input_size
    spec = input_spec or tf.TensorSpec((None, s, s, 3), tf.uint8, name="images")

    def serve(images):
        keypoints, scores = model.keypoints(tf.cast(images, tf.float32))
        return {"keypoints": keypoints, "scores": scores}

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[spec])
    archive.write_out(str(folder), verbose=False)


def export_saved_model(name: str, output_dir, model=None, overwrite: bool = False) -> Path:
    """Exports zoo model ``name[@version]`` to ``<output_dir>/<name>/<version>/``; returns the path.

    ``model`` may be given to export an already loaded model (its ``spec`` must match ``name``).
    """
    import tensorflow as tf

    spec = zoo.get_spec(name)
    if spec.version is None:
        raise zoo.WeightsNotPublishedError(
            f"{spec.name} has no published weights, so there is no version to export; "
            f"published: {', '.join(zoo.list_models(published_only=True)) or 'none'}")
    model = model if model is not None else zoo.load(spec.id)
    final = Path(output_dir) / spec.name / str(spec.version)
    tmp = _atomic_dir(final, overwrite)
    try:
        write_saved_model(model, tmp)
        meta = model_metadata(spec, format="saved_model", signature="serving_default",
                              tensorflow=tf.__version__)
        (tmp / METADATA_FILE).write_text(json.dumps(meta, indent=2) + "\n")
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final
