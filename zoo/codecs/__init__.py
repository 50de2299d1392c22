"""Target encoders and prediction decoders (heatmaps; PAFs and regression come later)."""

from zoo.codecs.heatmap import HeatmapCodec, HeatmapDecoder

__all__ = ["HeatmapCodec", "HeatmapDecoder"]
