"""The serving graph of every export, written as a SavedModel: ``images`` (uint8 RGB) ->
``model.export_outputs(images, decode)``.

The SavedModel, TFLite (converted from this SavedModel) and ONNX exporters all trace
``PoseModel.export_outputs``, so their graphs are the same function: with ``decode`` the task's
outputs (``model.export_output_names()``: keypoints and scores, or people and scores with the grouping
inside), without it the network alone (``model.raw_output_names``).
"""

from __future__ import annotations


def write_saved_model(model, folder, input_spec=None, decode: bool = True) -> None:
    """Writes ``model`` as a SavedModel whose ``serving_default`` is ``images ->
    model.export_outputs(images, decode)`` (``keras.export.ExportArchive`` tracks the variables).
    ``input_spec`` defaults to uint8 ``(None, S, S, 3)`` named ``images``."""
    import keras
    import tensorflow as tf

    from zoo.tasks import INPUT_NAME

    s = model.input_size
    spec = input_spec or tf.TensorSpec((None, s, s, 3), tf.uint8, name=INPUT_NAME)

    def serve(images):
        return model.export_outputs(tf.cast(images, tf.float32), decode)

    archive = keras.export.ExportArchive()
    archive.track(model)
    archive.add_endpoint(name="serving_default", fn=serve, input_signature=[spec])
    archive.write_out(str(folder), verbose=False)
