"""Stacked Hourglass presets."""

from zoo.presets._declare import IMAGENET_NORMALISATION, Architecture, pose_preset

ARCHITECTURE = Architecture(
    "hourglass", "zoo.architectures.hourglass", "StackedHourglass", title="Stacked Hourglass",
    paper="Newell, Yang, Deng. Stacked Hourglass Networks for Human Pose Estimation. ECCV 2016. "
          "https://arxiv.org/abs/1603.06937")


def _hourglass_preset(name: str, skeleton: str, experiment: str, **options):
    args = dict(num_stacks=2, filters=128, depth=4, input_size=128, skeleton=skeleton, **options)
    return pose_preset(ARCHITECTURE, name, args, experiment=experiment, normalisation=IMAGENET_NORMALISATION)


PRESETS = (
    # From version 2 on, the paper's flip test and DARK decoding by default (tools.tta on
    # hourglass-lsp@1's weights: each raised limb PCK@0.2, both together most, and the int8 file
    # stays fast). @1 keeps its own.
    _hourglass_preset("hourglass-lsp", "lsp14", "hourglass_lsp_long", flip_test=True, subpixel="dark"),
    # The same from hourglass-mpii@2 on (tools.tta on hourglass-mpii@1's weights, MPII validation
    # split: each raised PCK@0.2 and PCK@0.1, both together most; the paper tests with the flip too).
    _hourglass_preset("hourglass-mpii", "mpii16", "hourglass_mpii", flip_test=True, subpixel="dark"),
)
