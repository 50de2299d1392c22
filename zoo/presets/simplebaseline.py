"""SimpleBaseline presets (EfficientNet-Lite0 + deconvolution head)."""

from zoo.presets._declare import LITE_NORMALISATION, Architecture, pose_preset

ARCHITECTURE = Architecture(
    "simplebaseline", "zoo.architectures.simplebaseline", "SimpleBaseline",
    title="SimpleBaseline (ImageNet EfficientNet-Lite0 + deconvolution head)",
    paper="Xiao, Wu, Wei. Simple Baselines for Human Pose Estimation and Tracking. ECCV 2018. "
          "https://arxiv.org/abs/1804.06208 (backbone: EfficientNet-Lite0, Tan & Le, ICML 2019, "
          "https://arxiv.org/abs/1905.11946, instead of the paper's ResNet)")

# The paper's head (3 deconvolutions from stride 32 to stride-4 heatmaps) narrowed to 128 filters
# for phone speed; 192 px crops (LSPet people are about 150 px tall); sigma 2 on the 48x48 maps.
SIMPLEBASELINE_LSP_ARGS = dict(backbone="lite0", backbone_stride=32, deconv_layers=3, head_filters=128, sigma=2.0,
                               input_size=192, skeleton="lsp14")
# Version 2 on: the same network at 256 px (64x64 heatmaps), fine-tuned from @1
# (training.experiments.simplebaseline_lsp.SIMPLEBASELINE_LSP_256); each published version keeps
# its own build arguments in its model.json, so @1 still loads at 192 px.
# DARK decoding by default: on @2's weights (tools.tta) it raises limb PCK@0.1 in Keras and in
# int8 for a negligible int8 latency; the flip test raises PCK@0.2 more but doubles the latency,
# past BlazePose Full's, so it stays an option (zoo.load(..., flip_test=True)). The figures: the
# test-time table of simplebaseline-lsp@2's card.
SIMPLEBASELINE_LSP_256_ARGS = {**SIMPLEBASELINE_LSP_ARGS, "input_size": 256, "subpixel": "dark"}
# Version 3 on: @2 with a 64-filter head, fine-tuned
# (training.experiments.simplebaseline_lsp.SIMPLEBASELINE_LSP_HEAD64), for phone speed: its int8 file
# keeps up with BlazePose Full's where @2's did not (the cards' latency tables).
SIMPLEBASELINE_LSP_HEAD64_ARGS = {**SIMPLEBASELINE_LSP_256_ARGS, "head_filters": 64}
# The everyday-photos flagship: simplebaseline-lsp@3's network with COCO-17 outputs.
SIMPLEBASELINE_COCO_ARGS = {**SIMPLEBASELINE_LSP_HEAD64_ARGS, "skeleton": "coco17"}
# Its phone variant: the same network on 192 px crops (48x48 heatmaps), about half the arithmetic.
SIMPLEBASELINE_COCO_FAST_ARGS = {**SIMPLEBASELINE_COCO_ARGS, "input_size": 192}

PRESETS = (
    pose_preset(ARCHITECTURE, "simplebaseline-lsp", SIMPLEBASELINE_LSP_HEAD64_ARGS,
                experiment="simplebaseline_lsp_head64", normalisation=LITE_NORMALISATION),
    pose_preset(ARCHITECTURE, "simplebaseline-coco", SIMPLEBASELINE_COCO_ARGS, experiment="simplebaseline_coco",
                normalisation=LITE_NORMALISATION),
    pose_preset(ARCHITECTURE, "simplebaseline-coco-fast", SIMPLEBASELINE_COCO_FAST_ARGS,
                experiment="simplebaseline_coco_fast", normalisation=LITE_NORMALISATION),
)
