"""Convolutional Pose Machine presets."""

from zoo.presets._declare import LITE_NORMALISATION, Architecture, pose_preset

ARCHITECTURE = Architecture(
    "cpm", "zoo.architectures.cpm", "ConvolutionalPoseMachine", title="Convolutional Pose Machine",
    paper="Wei, Ramakrishna, Kanade, Sheikh. Convolutional Pose Machines. CVPR 2016. "
          "https://arxiv.org/abs/1602.00134")

# Build arguments of the presets, defined once: the training recipes (training.experiments) use them.
CPM_LSP_ARGS = dict(num_stages=3, feature_filters=(32, 48, 96), stage_filters=48, kernel_size=7, decoder_blur=1.0,
                    input_size=128, skeleton="lsp14")
# cpm-lsp@2: the image feature stage is ImageNet EfficientNet-Lite0 (strides 8 + 16), as the
# released CPM models start from ImageNet VGG-19; belief maps at the paper's stride 8 on 256 px crops
# (32x32 maps, 7x7 kernels: the paper's 11x11 on 46x46 in proportion), sigma 1.5 cells, DARK decoding.
CPM_LSP_IMAGENET_ARGS = dict(num_stages=3, feature_filters=(32, 48, 128), stage_filters=64, kernel_size=7,
                             backbone="lite0", sigma=1.5, subpixel="dark", input_size=256, skeleton="lsp14")

PRESETS = (
    # Version 2 on: the ImageNet EfficientNet-Lite0 feature stage, 256 px, DARK decoding (the
    # paper has no flip test; on @2's weights it adds little limb PCK@0.2 over DARK alone but
    # doubles the int8 latency, the test-time table of its card, so it stays an option:
    # zoo.load("cpm-lsp@2", flip_test=True)).
    pose_preset(ARCHITECTURE, "cpm-lsp", CPM_LSP_IMAGENET_ARGS, experiment="cpm_lsp_imagenet",
                normalisation=LITE_NORMALISATION),
)
