"""Pretrained image backbones returning multi-scale features (EfficientNet-Lite)."""

from zoo.backbones.efficientnet_lite import EfficientNetLite, load_imagenet_weights

__all__ = ["EfficientNetLite", "load_imagenet_weights"]
