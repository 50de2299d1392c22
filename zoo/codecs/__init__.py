"""Target encoders and prediction decoders (heatmaps, box-normalised regression; PAFs later)."""

from zoo.codecs.heatmap import HeatmapCodec, HeatmapDecoder
from zoo.codecs.regression import RegressionCodec

__all__ = ["HeatmapCodec", "HeatmapDecoder", "RegressionCodec"]
