"""Deployment: versioned SavedModels, TFLite and ONNX files with the decoding inside the graph.

    import edge
    edge.export("hourglass-lsp", format="tflite", precision="int8", output_dir="exports")
"""

from edge.exporter import FORMATS, export, export_saved_model, model_metadata

__all__ = ["FORMATS", "export", "export_saved_model", "model_metadata"]
