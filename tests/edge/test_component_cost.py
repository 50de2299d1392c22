"""Cost of the Tompson spatial model on the edge: multiply-adds of the exported graph with and
without it, and the edge formulation switch."""

import numpy as np
import pytest

from edge.component_cost import component_cost, multiply_adds
from zoo.architectures.base import edge_formulation
from zoo.architectures.tompson import TompsonPoseModel

SMALL = dict(bank_filters=(4, 4, 8), num_scales=3, head_filters=8, head_kernel=3, input_size=32)


@pytest.mark.parametrize("stride", [1, 2])
def test_spatial_model_multiply_adds_match_the_depthwise_count(stride):
    model = TompsonPoseModel(**SMALL, message_stride=stride)
    model.build()
    sm = model.spatial_model
    whole = multiply_adds(model)
    with model.bypassing("spatial_model"):
        bare = multiply_adds(model)
    assert multiply_adds(model) == whole  # the spatial model is back after the block
    spatial = whole - bare
    depthwise = sm.num_pairs * sm.kernel_side ** 2 * sm.message_size ** 2  # 182 pairs
    to_receivers = sm.heatmap_size ** 2 * sm.num_pairs * sm.num_joints  # summing log-messages per joint
    assert depthwise + to_receivers <= spatial < 1.3 * (depthwise + to_receivers)
    with pytest.raises(ValueError, match="no spatial model"):
        with TompsonPoseModel(**SMALL, spatial="none").bypassing("spatial_model"):
            pass


def test_edge_formulation_switches_and_restores():
    model = TompsonPoseModel(**SMALL)
    model.build()
    with edge_formulation(model):
        assert model.spatial_model.edge_ops
    assert not model.spatial_model.edge_ops


def test_component_cost_report():
    model = TompsonPoseModel(**SMALL)
    model.build()
    report = component_cost(model, "spatial model", "spatial_model", precisions=("float32",),
                            runs=3, warmup=1)
    whole, without, share = report["rows"]
    assert whole["M multiply-adds"] > without["M multiply-adds"]
    assert share["graph"] == "spatial model: share of the whole" and share["M multiply-adds"].endswith("%")
    assert np.isfinite(whole["float32 median ms (2 threads)"]) and "LiteRT" in report["description"]
