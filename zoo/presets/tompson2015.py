"""Tompson et al. 2015 presets: coarse heatmaps and a fine model on crops of the shared features."""

from zoo.presets._declare import IMAGENET_NORMALISATION, Architecture, pose_preset

ARCHITECTURE = Architecture(
    "tompson2015", "zoo.architectures.tompson2015", "Tompson2015",
    title="Coarse heatmaps + fine model on feature crops (Tompson et al. 2015)",
    paper="Tompson, Goroshin, Jain, LeCun, Bregler. Efficient Object Localization Using Convolutional "
          "Networks. CVPR 2015. https://arxiv.org/abs/1411.4280 (scaled down for CPU training, with "
          "BatchNorm)")

# The coarse model's three banks at 32-64 filters and the fine model's 32 filters on 32-pixel windows
# (about a third of a person's height in a 128 px crop, as the paper's 72-pixel windows): a training
# step as fast as hourglass-mpii's on 2 CPU cores.
TOMPSON2015_MPII_ARGS = dict(bank_filters=(32, 48, 64), context_kernel=9, num_scales=3, head_filters=128,
                             spatial_dropout=0.2, window=32, fine_filters=32, fine_sigma=1.5, input_size=128,
                             skeleton="mpii16")

PRESETS = (
    pose_preset(ARCHITECTURE, "tompson2015-mpii", TOMPSON2015_MPII_ARGS, experiment="tompson2015_mpii",
                normalisation=IMAGENET_NORMALISATION),
)
