"""Tompson et al. 2014 recipes (part detector with BatchNorm + spatial model), sized for CPU.

``tompson_lsp``: the paper's three phases (Sec. 4): the part detector alone (10 epochs), the fully
connected spatial model on the frozen detector (2 epochs at a peak learning rate of 1e-2: at 1e-3
Adam moved its softplus-space kernels and biases too little to change anything in 2 epochs),
then both jointly (3 epochs at a peak of 3e-4: fine-tuning parts that are already trained).
``tompson_e2e_lsp``: the same model trained jointly from the start, 6 epochs (about half of the
three phases' CPU time: a joint epoch costs about 1.9 detector epochs here; the session's budget
allowed no more).
``tompson_star_lsp``: the ablation with a star-shaped spatial model (every joint linked to the
neck) on the same frozen detector.

Messages run on a 16x16 grid (``message_stride=2``, 31x31 kernels): the (2H-1)^2 kernels on the
32x32 heatmaps cost 0.80 G multiply-adds per crop against about 0.05 G (see the model card).
"""

from training.experiments.base import Experiment
from zoo.registry import TOMPSON_LSP_ARGS as _MODEL

TOMPSON_LSP = Experiment(
    name="tompson_lsp",
    architecture="tompson",
    model_args=_MODEL,
    dataset="lspet",
    sigma=1.5,
    batch_size=16,
    epochs=15,
    phases=((1, 10), (2, 2, 1e-2), (3, 3, 3e-4)),
    learning_rate=1e-3,
)

TOMPSON_E2E_LSP = TOMPSON_LSP.replace(name="tompson_e2e_lsp", epochs=6, phases=((3, 6),))

TOMPSON_STAR_LSP = TOMPSON_LSP.replace(name="tompson_star_lsp", epochs=12, phases=((1, 10), (2, 2, 1e-2)),
                                       model_args={**_MODEL, "spatial": "star", "spatial_root": 12})

# A tiny Tompson model for tests: every phase trains in seconds on a CPU.
TOMPSON_TINY = TOMPSON_LSP.replace(
    name="tompson_tiny",
    model_args={**_MODEL, "bank_filters": (4, 4, 8), "head_filters": 8, "head_kernel": 3, "input_size": 32},
    batch_size=4, epochs=3, steps_per_epoch=3, warmup_steps=1, jit_compile=False,
    phases=((1, 1), (2, 1, 0.05), (3, 1)),
)

EXPERIMENTS = (TOMPSON_LSP, TOMPSON_E2E_LSP, TOMPSON_STAR_LSP, TOMPSON_TINY)
