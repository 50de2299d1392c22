"""Tompson et al. 2014 recipes (part detector with BatchNorm + spatial model), sized for CPU.

``tompson_lsp`` (published as ``tompson-lsp@1``): the paper's phases 1 and 2, the part detector
alone (10 epochs), then the fully connected spatial model on the frozen detector (2 epochs at a
peak learning rate of 1e-2: at 1e-3 Adam moved its softplus-space kernels and biases too little
to change anything), trained by the likelihood of the true cell (``marginal_nll``).
The paper's phase 3, joint training, lowered validation PCK on this budget in both forms tried,
so the published weights stop after phase 2; the recipes that include it are kept to reproduce
the ablation:

``tompson_joint_lsp``: phases 1-2, then both jointly (4 epochs at 1e-3, MSE on both outputs): with
ReLU unaries the gradient of ``log(ReLU(p) + eps)`` (up to ``1 / eps``) wrecked the detector
(stopped after one epoch).
``tompson_softplus_lsp``: the same three phases with SoftPlus unaries (bounded gradient) and a
joint phase of 3 epochs at 3e-4.
``tompson_e2e_lsp``: SoftPlus model trained jointly from the start, 6 epochs (about half of the
three phases' CPU time): it stayed far below the part detector trained alone.
``tompson_star_lsp``: the star-shaped spatial model (every joint linked to the neck) on the same
frozen detector.

``tompson_lsp_long`` (for ``tompson-lsp@2``): ``tompson-lsp@1`` trained on, 16 more detector epochs
and the spatial model again.

Every variant's PCK is in the ablation table of the tompson-lsp@1 card.

Messages run on a 16x16 grid (``message_stride=2``, 31x31 kernels): the (2H-1)^2 kernels on the
32x32 heatmaps cost many times more multiply-adds (see the model card's cost table).
"""

from training.experiments.base import Experiment
from training.experiments.tompson_phases import TompsonPhase
from zoo.presets.tompson import TOMPSON_LSP_ARGS as _MODEL

TOMPSON_LSP = Experiment(
    name="tompson_lsp",
    architecture="tompson",
    model_args=_MODEL,
    dataset="lspet",
    batch_size=16,
    epochs=12,
    phases=(TompsonPhase(1, 10), TompsonPhase(2, 2, 1e-2)),
    learning_rate=1e-3,
)

TOMPSON_JOINT_LSP = TOMPSON_LSP.replace(
    name="tompson_joint_lsp", epochs=16, phases=(TompsonPhase(1, 10), TompsonPhase(2, 2, 1e-2), TompsonPhase(3, 4)))

_SOFTPLUS = {**_MODEL, "positive": "softplus"}
TOMPSON_SOFTPLUS_LSP = TOMPSON_LSP.replace(
    name="tompson_softplus_lsp", epochs=15, model_args=_SOFTPLUS,
    phases=(TompsonPhase(1, 10), TompsonPhase(2, 2, 1e-2), TompsonPhase(3, 3, 3e-4)))

TOMPSON_E2E_LSP = TOMPSON_LSP.replace(name="tompson_e2e_lsp", epochs=6, model_args=_SOFTPLUS,
                                      phases=(TompsonPhase(3, 6),))

TOMPSON_STAR_LSP = TOMPSON_LSP.replace(name="tompson_star_lsp", model_args={**_MODEL, "spatial": "star"})

# The @2 schedule: tompson-lsp@1's weights (10 detector epochs, 2 spatial-model epochs) trained
# on, as the paper trains far longer: 16 more epochs of the part detector, then the spatial model
# fitted again on the better detector (its @1 kernels as the start, 2 epochs at 1e-2). Eager
# float32: mixed_bfloat16 trained this model slower even on a CPU with AMX-BF16
# (benchmarks/train_speed/tompson_lsp-*.json).
TOMPSON_LSP_LONG = TOMPSON_LSP.replace(
    name="tompson_lsp_long", init_from="tompson-lsp@1", epochs=18, warmup_steps=500, jit_compile=False,
    phases=(TompsonPhase(1, 16), TompsonPhase(2, 2, 1e-2)))

# A tiny Tompson model for tests: every phase trains in seconds on a CPU.
TOMPSON_TINY = TOMPSON_LSP.replace(
    name="tompson_tiny",
    model_args={**_MODEL, "bank_filters": (4, 4, 8), "head_filters": 8, "head_kernel": 3, "input_size": 32},
    batch_size=4, epochs=3, steps_per_epoch=3, warmup_steps=1, jit_compile=False,
    phases=(TompsonPhase(1, 1), TompsonPhase(2, 1, 0.05), TompsonPhase(3, 1)),
)

EXPERIMENTS = (TOMPSON_LSP, TOMPSON_LSP_LONG, TOMPSON_JOINT_LSP, TOMPSON_SOFTPLUS_LSP, TOMPSON_E2E_LSP,
               TOMPSON_STAR_LSP, TOMPSON_TINY)
