"""Iterative Error Feedback presets."""

from zoo.presets._declare import LITE_NORMALISATION, Architecture, pose_preset

ARCHITECTURE = Architecture(
    "ief", "zoo.architectures.ief", "IterativeErrorFeedback",
    title="Iterative Error Feedback (Carreira et al. 2016)",
    paper="Carreira, Agrawal, Fragkiadaki, Malik. Human Pose Estimation with Iterative Error Feedback. "
          "CVPR 2016. https://arxiv.org/abs/1507.06550 (network f: ImageNet EfficientNet-Lite0, Tan & Le, "
          "ICML 2019, https://arxiv.org/abs/1905.11946, in GoogLeNet's role, its stem widened to the pose maps)")

# ief-mpii: the paper's T = 4 iterations and bound L = 20 px at 224 px (as a fraction of the side),
# on 128 px crops (each iteration is a full pass of Lite0); maps of sigma 3.2 px.
IEF_MPII_ARGS = dict(num_iterations=4, max_correction=20.0 / 224.0, map_sigma=0.025, backbone="lite0",
                     head_filters=64, units=256, dropout=0.3, input_size=128, skeleton="mpii16")

PRESETS = (
    # Unpublished until trained (training.experiments.ief_mpii.IEF_MPII).
    pose_preset(ARCHITECTURE, "ief-mpii", IEF_MPII_ARGS, experiment="ief_mpii", normalisation=LITE_NORMALISATION),
)
