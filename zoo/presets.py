"""The presets: how to build each zoo model (architecture, build arguments, skeleton, input size,
normalisation), as plain data. A preset has no codec of its own: the model builds its codec from
its build arguments, and ``zoo.publish`` records it in the published spec."""

from __future__ import annotations

from typing import Dict

from zoo.specs import ModelSpec

_NORMALISATION = {"input": "uint8 RGB, 0..255", "inside_model": "(x / 255 - mean) / std",
                  "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}
_HOURGLASS_PAPER = "Newell, Yang, Deng. Stacked Hourglass Networks for Human Pose Estimation. ECCV 2016. https://arxiv.org/abs/1603.06937"


def _hourglass_preset(name: str, skeleton: str, experiment: str, **options) -> ModelSpec:
    args = dict(num_stacks=2, filters=128, depth=4, input_size=128, skeleton=skeleton, **options)
    return ModelSpec(name=name, architecture="hourglass", model_args=args, skeleton=skeleton,
                     input_size=128, normalisation=_NORMALISATION, paper=_HOURGLASS_PAPER, experiment=experiment)


_CPM_PAPER = ("Wei, Ramakrishna, Kanade, Sheikh. Convolutional Pose Machines. CVPR 2016. "
              "https://arxiv.org/abs/1602.00134")
_DEEPPOSE_PAPER = ("Toshev, Szegedy. DeepPose: Human Pose Estimation via Deep Neural Networks. CVPR 2014. "
                   "https://arxiv.org/abs/1312.4659")
_TOMPSON_PAPER = ("Tompson, Jain, LeCun, Bregler. Joint Training of a Convolutional Network and a Graphical "
                  "Model for Human Pose Estimation. NIPS 2014. https://arxiv.org/abs/1406.2984 "
                  "(with BatchNorm in the part detector)")

# Build arguments of the presets, defined once: the training recipes (training.experiments) use them.
CPM_LSP_ARGS = dict(num_stages=3, feature_filters=(32, 48, 96), stage_filters=48, kernel_size=7, decoder_blur=1.0,
                    input_size=128, skeleton="lsp14")
# cpm-lsp@2: the image feature stage is ImageNet EfficientNet-Lite0 (strides 8 + 16), as the
# released CPM models start from ImageNet VGG-19; belief maps at the paper's stride 8 on 256 px crops
# (32x32 maps, 7x7 kernels: the paper's 11x11 on 46x46 in proportion), sigma 1.5 cells, DARK decoding.
CPM_LSP_IMAGENET_ARGS = dict(num_stages=3, feature_filters=(32, 48, 128), stage_filters=64, kernel_size=7,
                             backbone="lite0", sigma=1.5, subpixel="dark", input_size=256, skeleton="lsp14")
DEEPPOSE_LSP_ARGS = dict(num_stages=2, filters=(32, 64, 96, 128, 128), units=256, patch_size=32,
                         patch_filters=(32, 64, 96), patch_units=256, sigma=2.5, min_patch=0.3, dropout=0.3,
                         input_size=128, skeleton="lsp14")
# deeppose-lsp@2: the holistic regressor reads ImageNet EfficientNet-Lite0 features (stride 32,
# 6x6 on 192 px crops), one conv block to 3x3x128, then the paper's two fully connected layers;
# the cascade stage as @1.
DEEPPOSE_LSP_IMAGENET_ARGS = {**DEEPPOSE_LSP_ARGS, "backbone": "lite0", "filters": (128,), "input_size": 192}
# Messages on a 16x16 grid (message_stride=2, 31x31 kernels): see the tompson-lsp card's cost table.
# initial_message_bias 1.0: chosen on training crops with the histogram kernels on the trained
# detector, where the refined PCK@0.2 rose with the bias over the values tried (the card's
# limitations); the paper's formula with a small bias lets broad priors overrule this detector's
# evidence.
TOMPSON_LSP_ARGS = dict(bank_filters=(32, 32, 64), num_scales=3, head_filters=64, head_kernel=9, spatial="full",
                        spatial_root=12, message_stride=2, initial_message_bias=1.0, positive="relu",
                        input_size=128, skeleton="lsp14")

_TOMPSON2015_PAPER = ("Tompson, Goroshin, Jain, LeCun, Bregler. Efficient Object Localization Using Convolutional "
                      "Networks. CVPR 2015. https://arxiv.org/abs/1411.4280 (scaled down for CPU training, with "
                      "BatchNorm)")
# The coarse model's three banks at 32-64 filters and the fine model's 32 filters on 32-pixel windows
# (about a third of a person's height in a 128 px crop, as the paper's 72-pixel windows): a training
# step as fast as hourglass-mpii's on 2 CPU cores.
TOMPSON2015_MPII_ARGS = dict(bank_filters=(32, 48, 64), context_kernel=9, num_scales=3, head_filters=128,
                             spatial_dropout=0.2, window=32, fine_filters=32, fine_sigma=1.5, input_size=128,
                             skeleton="mpii16")

_OPENPOSE_CITATION = ("Cao, Hidalgo, Simon, Wei, Sheikh. OpenPose: Realtime Multi-Person 2D Pose Estimation using "
                      "Part Affinity Fields. TPAMI 2019. https://arxiv.org/abs/1812.08008")
_OPENPOSE_PAPER = _OPENPOSE_CITATION + " (backbone: a small VGG-style conv-BN-ReLU stack trained from scratch)"
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
_OPENPOSE_LITE_PAPER = _OPENPOSE_CITATION + (" (backbone: ImageNet EfficientNet-Lite0, Tan & Le, ICML 2019, "
                                              "https://arxiv.org/abs/1905.11946, in VGG-19's role)")

_SIMPLEBASELINE_PAPER = ("Xiao, Wu, Wei. Simple Baselines for Human Pose Estimation and Tracking. ECCV 2018. "
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
# Version 3 on: @2 with a 64-filter head, fine-tuned (training.experiments.simplebaseline_lsp.SIMPLEBASELINE_LSP_HEAD64),
# for phone speed: its int8 file keeps up with BlazePose Full's where @2's did not (the cards' latency
# tables).
SIMPLEBASELINE_LSP_HEAD64_ARGS = {**SIMPLEBASELINE_LSP_256_ARGS, "head_filters": 64}
# The everyday-photos flagship: simplebaseline-lsp@3's network with COCO-17 outputs.
SIMPLEBASELINE_COCO_ARGS = {**SIMPLEBASELINE_LSP_HEAD64_ARGS, "skeleton": "coco17"}
# Its phone variant: the same network on 192 px crops (48x48 heatmaps), about half the arithmetic.
SIMPLEBASELINE_COCO_FAST_ARGS = {**SIMPLEBASELINE_COCO_ARGS, "input_size": 192}
_IEF_PAPER = ("Carreira, Agrawal, Fragkiadaki, Malik. Human Pose Estimation with Iterative Error Feedback. "
              "CVPR 2016. https://arxiv.org/abs/1507.06550 (network f: ImageNet EfficientNet-Lite0, Tan & Le, "
              "ICML 2019, https://arxiv.org/abs/1905.11946, in GoogLeNet's role, its stem widened to the pose maps)")
# ief-mpii: the paper's T = 4 iterations and bound L = 20 px at 224 px (as a fraction of the side),
# on 128 px crops (each iteration is a full pass of Lite0); maps of sigma 3.2 px.
IEF_MPII_ARGS = dict(num_iterations=4, max_correction=20.0 / 224.0, map_sigma=0.025, backbone="lite0",
                     head_filters=64, units=256, dropout=0.3, input_size=128, skeleton="mpii16")
# EfficientNet-Lite's own normalisation, (x - 127) / 128, written in the zoo's (x / 255 - mean) / std form.
_LITE_NORMALISATION = {"input": "uint8 RGB, 0..255", "inside_model": "(x / 255 - mean) / std = (x - 127) / 128",
                       "mean": [127.0 / 255.0] * 3, "std": [128.0 / 255.0] * 3}

PRESETS: Dict[str, ModelSpec] = {
    p.name: p for p in (
        # From version 2 on, the paper's flip test and DARK decoding by default (tools.tta on
        # hourglass-lsp@1's weights: each raised limb PCK@0.2, both together most, and the int8 file
        # stays fast). @1 keeps its own.
        _hourglass_preset("hourglass-lsp", "lsp14", "hourglass_lsp_long", flip_test=True, subpixel="dark"),
        _hourglass_preset("hourglass-mpii", "mpii16", "hourglass_mpii"),
        # Version 2 on: the ImageNet EfficientNet-Lite0 feature stage, 256 px, DARK decoding (the
        # paper has no flip test; on @2's weights it adds little limb PCK@0.2 over DARK alone but
        # doubles the int8 latency, the test-time table of its card, so it stays an option:
        # zoo.load("cpm-lsp@2", flip_test=True)).
        ModelSpec(name="cpm-lsp", architecture="cpm", model_args=CPM_LSP_IMAGENET_ARGS, skeleton="lsp14",
                  input_size=256, normalisation=_LITE_NORMALISATION, paper=_CPM_PAPER,
                  experiment="cpm_lsp_imagenet"),
        # Version 2 on: the holistic regressor on the ImageNet EfficientNet-Lite0 backbone
        # (AlexNet's role in the paper), 192 px (training.experiments.deeppose_lsp.DEEPPOSE_LSP_IMAGENET);
        # version 3: the same network, @2 trained on with the L1 loss (DEEPPOSE_LSP_L1).
        ModelSpec(name="deeppose-lsp", architecture="deeppose", model_args=DEEPPOSE_LSP_IMAGENET_ARGS, skeleton="lsp14",
                  input_size=192, normalisation=_LITE_NORMALISATION, paper=_DEEPPOSE_PAPER,
                  experiment="deeppose_lsp_l1"),
        # Version 2 on: the same network, @1 trained on for 16 more part-detector epochs, then
        # its spatial model again (training.experiments.tompson_lsp.TOMPSON_LSP_LONG).
        ModelSpec(name="tompson-lsp", architecture="tompson", model_args=TOMPSON_LSP_ARGS, skeleton="lsp14",
                  input_size=128, normalisation=_NORMALISATION, paper=_TOMPSON_PAPER, experiment="tompson_lsp_long"),
        ModelSpec(name="tompson2015-mpii", architecture="tompson2015", model_args=TOMPSON2015_MPII_ARGS,
                  skeleton="mpii16", input_size=128, normalisation=_NORMALISATION, paper=_TOMPSON2015_PAPER,
                  experiment="tompson2015_mpii"),
        # Version 2 on: the ImageNet backbone, trained on scenes closer to group photos and on
        # coco-mini photos (training.experiments.openpose_lsp.OPENPOSE_LSP_PHOTOS).
        ModelSpec(name="openpose-lsp", architecture="openpose", model_args=OPENPOSE_LSP_PHOTOS_ARGS, skeleton="lsp14",
                  input_size=256, normalisation=_LITE_NORMALISATION, paper=_OPENPOSE_LITE_PAPER,
                  experiment="openpose_lsp_photos"),
        # Unpublished until trained (training.experiments.ief_mpii.IEF_MPII).
        ModelSpec(name="ief-mpii", architecture="ief", model_args=IEF_MPII_ARGS, skeleton="mpii16", input_size=128,
                  normalisation=_LITE_NORMALISATION, paper=_IEF_PAPER, experiment="ief_mpii"),
        ModelSpec(name="simplebaseline-lsp", architecture="simplebaseline",
                  model_args=SIMPLEBASELINE_LSP_HEAD64_ARGS, skeleton="lsp14", input_size=256,
                  normalisation=_LITE_NORMALISATION, paper=_SIMPLEBASELINE_PAPER, experiment="simplebaseline_lsp_head64"),
        ModelSpec(name="simplebaseline-coco", architecture="simplebaseline",
                  model_args=SIMPLEBASELINE_COCO_ARGS, skeleton="coco17", input_size=256,
                  normalisation=_LITE_NORMALISATION, paper=_SIMPLEBASELINE_PAPER, experiment="simplebaseline_coco"),
        ModelSpec(name="simplebaseline-coco-fast", architecture="simplebaseline",
                  model_args=SIMPLEBASELINE_COCO_FAST_ARGS, skeleton="coco17", input_size=192,
                  normalisation=_LITE_NORMALISATION, paper=_SIMPLEBASELINE_PAPER,
                  experiment="simplebaseline_coco_fast"),
    )
}
