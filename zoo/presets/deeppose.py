"""DeepPose presets."""

from zoo.presets._declare import LITE_NORMALISATION, Architecture, pose_preset

ARCHITECTURE = Architecture(
    "deeppose", "zoo.architectures.deeppose", "DeepPose", title="DeepPose (cascaded regression)",
    paper="Toshev, Szegedy. DeepPose: Human Pose Estimation via Deep Neural Networks. CVPR 2014. "
          "https://arxiv.org/abs/1312.4659")

DEEPPOSE_LSP_ARGS = dict(num_stages=2, filters=(32, 64, 96, 128, 128), units=256, patch_size=32,
                         patch_filters=(32, 64, 96), patch_units=256, sigma=2.5, min_patch=0.3, dropout=0.3,
                         input_size=128, skeleton="lsp14")
# deeppose-lsp@2: the holistic regressor reads ImageNet EfficientNet-Lite0 features (stride 32,
# 6x6 on 192 px crops), one conv block to 3x3x128, then the paper's two fully connected layers;
# the cascade stage as @1.
DEEPPOSE_LSP_IMAGENET_ARGS = {**DEEPPOSE_LSP_ARGS, "backbone": "lite0", "filters": (128,), "input_size": 192}

PRESETS = (
    # Version 2 on: the holistic regressor on the ImageNet EfficientNet-Lite0 backbone
    # (AlexNet's role in the paper), 192 px (training.experiments.deeppose_lsp.DEEPPOSE_LSP_IMAGENET);
    # version 3: the same network, @2 trained on with the L1 loss (DEEPPOSE_LSP_L1).
    pose_preset(ARCHITECTURE, "deeppose-lsp", DEEPPOSE_LSP_IMAGENET_ARGS, experiment="deeppose_lsp_l1",
                normalisation=LITE_NORMALISATION),
)
