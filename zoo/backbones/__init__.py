"""Pretrained image backbones returning multi-scale features (EfficientNet-Lite)."""

from zoo.backbones.efficientnet_lite import EfficientNetLite, imagenet_origin, load_imagenet_weights

__all__ = ["EfficientNetLite", "imagenet_origin", "load_imagenet_weights"]
