"""PoseZoo: trained 2D human pose models for TensorFlow / Keras 3 and TFLite.

    import zoo
    zoo.list_models()                      # ['hourglass-lsp@1', 'hourglass-mpii', ...]
    model = zoo.load("hourglass-lsp")      # newest published version; "hourglass-lsp@1" pins it
    keypoints, scores = model.predict_keypoints(crops)   # uint8 (N, 128, 128, 3)

Nothing heavy is imported here: TensorFlow loads on the first ``load``.
"""

from zoo.registry import get_spec, list_models, load, most_accurate, publish
from zoo.specs import ModelNotFoundError, ModelSpec, WeightsIntegrityError, WeightsNotPublishedError, WeightsSpec

__version__ = "0.1.0"
__all__ = ["load", "list_models", "get_spec", "most_accurate", "publish", "ModelSpec", "WeightsSpec",
           "ModelNotFoundError", "WeightsNotPublishedError", "WeightsIntegrityError"]
