"""Tompson et al. 2014 recipes (part detector with BatchNorm + spatial model), sized for CPU.

Issue #5 in progress: stage 1 (the part detector alone) is defined; the spatial-model and joint
phases are added next, reusing the finished stage-1 folder.
"""

from training.experiments.base import Experiment

TOMPSON_LSP = Experiment(
    name="tompson_lsp",
    architecture="tompson",
    model_args=dict(bank_filters=(32, 32, 64), num_scales=3, head_filters=64, head_kernel=9,
                    spatial="full", input_size=128, skeleton="lsp14"),
    dataset="lspet",
    sigma=1.5,
    batch_size=16,
    epochs=10,
    phases=((1, 10),),
    learning_rate=1e-3,
)

EXPERIMENTS = (TOMPSON_LSP,)
