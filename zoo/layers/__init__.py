"""Blocks shared by several architectures."""

from zoo.layers.blocks import ConvBNReLU, ResidualModule

__all__ = ["ConvBNReLU", "ResidualModule"]
