"""Deployment: versioned SavedModels with decoding inside (TFLite and ONNX follow)."""

from edge.export import export_saved_model, model_metadata

__all__ = ["export_saved_model", "model_metadata"]
