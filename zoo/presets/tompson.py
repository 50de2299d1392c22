"""Tompson et al. 2014 presets: part detector + spatial model."""

from zoo.presets._declare import IMAGENET_NORMALISATION, Architecture, pose_preset

ARCHITECTURE = Architecture(
    "tompson", "zoo.architectures.tompson", "TompsonPoseModel",
    title="Part detector + spatial model (Tompson et al. 2014)",
    paper="Tompson, Jain, LeCun, Bregler. Joint Training of a Convolutional Network and a Graphical "
          "Model for Human Pose Estimation. NIPS 2014. https://arxiv.org/abs/1406.2984 "
          "(with BatchNorm in the part detector)")

# Messages on a 16x16 grid (message_stride=2, 31x31 kernels): see the tompson-lsp card's cost table.
# initial_message_bias 1.0: chosen on training crops with the histogram kernels on the trained
# detector, where the refined PCK@0.2 rose with the bias over the values tried (the card's
# limitations); the paper's formula with a small bias lets broad priors overrule this detector's
# evidence.
TOMPSON_LSP_ARGS = dict(bank_filters=(32, 32, 64), num_scales=3, head_filters=64, head_kernel=9, spatial="full",
                        spatial_root=12, message_stride=2, initial_message_bias=1.0, positive="relu",
                        input_size=128, skeleton="lsp14")

PRESETS = (
    # Version 2 on: the same network, @1 trained on for 16 more part-detector epochs, then
    # its spatial model again (training.experiments.tompson_lsp.TOMPSON_LSP_LONG).
    pose_preset(ARCHITECTURE, "tompson-lsp", TOMPSON_LSP_ARGS, experiment="tompson_lsp_long",
                normalisation=IMAGENET_NORMALISATION),
)
