"""OpenPose presets (multi-person, part affinity fields)."""

from zoo.presets._declare import LITE_NORMALISATION, Architecture, pose_preset

_OPENPOSE_CITATION = ("Cao, Hidalgo, Simon, Wei, Sheikh. OpenPose: Realtime Multi-Person 2D Pose Estimation using "
                      "Part Affinity Fields. TPAMI 2019. https://arxiv.org/abs/1812.08008")
ARCHITECTURE = Architecture(
    "openpose", "zoo.architectures.openpose", "OpenPose", title="OpenPose (part affinity fields)",
    paper=_OPENPOSE_CITATION + " (backbone: a small VGG-style conv-BN-ReLU stack trained from scratch)")

OPENPOSE_LSP_ARGS = dict(backbone_filters=(16, 32, 64), stage_filters=64, stage_convs=3, paf_stages=2,
                         heatmap_stages=1, upsample=2, max_people=10, max_candidates=10, input_size=256,
                         skeleton="lsp14")
# openpose-lsp@2: ImageNet EfficientNet-Lite0 (strides 8 + 16) in VGG-19's role, reduced to
# 128 channels for the stages (only the last of backbone_filters is used with a backbone); the
# stages and grouping as @1.
OPENPOSE_LSP_LITE_ARGS = {**OPENPOSE_LSP_ARGS, "backbone": "lite0", "backbone_filters": (16, 32, 128)}
# Published @2: the same network with the grouping thresholds chosen on 100 held-out validation
# scenes after training (peaks >= 0.05 instead of 0.15, limbs' mean PAF score >= 0.15 instead of
# 0.25), which raised the scenes' OKS AP and recall.
OPENPOSE_LSP_PHOTOS_ARGS = {**OPENPOSE_LSP_LITE_ARGS, "peak_threshold": 0.05, "min_mean_score": 0.15}
# openpose-coco: @2's network with COCO-17 heads (the 16 limbs of zoo.skeletons.COCO17.tree) and @2's
# grouping thresholds to start from; unpublished until trained.
OPENPOSE_COCO_ARGS = {**OPENPOSE_LSP_PHOTOS_ARGS, "skeleton": "coco17"}
_OPENPOSE_LITE_PAPER = _OPENPOSE_CITATION + (" (backbone: ImageNet EfficientNet-Lite0, Tan & Le, ICML 2019, "
                                              "https://arxiv.org/abs/1905.11946, in VGG-19's role)")

PRESETS = (
    # Version 2 on: the ImageNet backbone, trained on scenes closer to group photos and on
    # coco-mini photos (training.experiments.openpose_lsp.OPENPOSE_LSP_PHOTOS).
    pose_preset(ARCHITECTURE, "openpose-lsp", OPENPOSE_LSP_PHOTOS_ARGS, experiment="openpose_lsp_photos",
                normalisation=LITE_NORMALISATION, paper=_OPENPOSE_LITE_PAPER),
    # Unpublished until trained (training.experiments.openpose_coco.OPENPOSE_COCO): real COCO and
    # MPII group photos and LSPet composites, starting from openpose-lsp@2.
    pose_preset(ARCHITECTURE, "openpose-coco", OPENPOSE_COCO_ARGS, experiment="openpose_coco",
                normalisation=LITE_NORMALISATION, paper=_OPENPOSE_LITE_PAPER),
)
