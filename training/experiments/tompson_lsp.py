"""Tompson et al. 2014 recipes (part detector with BatchNorm + spatial model), sized for CPU.

``tompson_lsp``: the paper's three phases (Sec. 4): the part detector alone (10 epochs), the fully
connected spatial model on the frozen detector (2 epochs), then both jointly (4 epochs).
``tompson_e2e_lsp``: the same model trained jointly from the start (12 epochs: about the same
CPU time as the three phases, whose detector phase runs about twice as fast per epoch).
``tompson_star_lsp``: the ablation with a star-shaped spatial model (every joint linked to the
neck) on the same frozen detector.

Messages run on a 16x16 grid (``message_stride=2``, 31x31 kernels): the (2H-1)^2 kernels on the
32x32 heatmaps cost 0.80 G multiply-adds per crop against about 0.05 G (see the model card).
"""

from training.experiments.base import Experiment

_MODEL = dict(bank_filters=(32, 32, 64), num_scales=3, head_filters=64, head_kernel=9,
              spatial="full", message_stride=2, input_size=128, skeleton="lsp14")

TOMPSON_LSP = Experiment(
    name="tompson_lsp",
    architecture="tompson",
    model_args=_MODEL,
    dataset="lspet",
    sigma=1.5,
    batch_size=16,
    epochs=16,
    phases=((1, 10), (2, 2), (3, 4)),
    learning_rate=1e-3,
)

TOMPSON_E2E_LSP = TOMPSON_LSP.replace(name="tompson_e2e_lsp", epochs=12, phases=((3, 12),))

TOMPSON_STAR_LSP = TOMPSON_LSP.replace(name="tompson_star_lsp", epochs=12, phases=((1, 10), (2, 2)),
                                       model_args={**_MODEL, "spatial": "star", "spatial_root": 12})

EXPERIMENTS = (TOMPSON_LSP, TOMPSON_E2E_LSP, TOMPSON_STAR_LSP)
