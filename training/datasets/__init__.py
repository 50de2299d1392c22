"""Dataset loaders, one module per dataset."""

from training.datasets.base import DATA_ROOT_ENV, DatasetError, MultiPersonSamples, PoseSamples, data_root
from training.datasets.coco import load_coco_keypoints, loss_mask
from training.datasets.lspet import load_lspet
from training.datasets.mpii import load_mpii_json

__all__ = ["DATA_ROOT_ENV", "DatasetError", "MultiPersonSamples", "PoseSamples", "data_root",
           "load_coco_keypoints", "load_lspet", "load_mpii_json", "loss_mask"]
