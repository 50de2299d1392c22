"""Dataset loaders, one module per dataset."""

from training.datasets.base import DATA_ROOT_ENV, DatasetError, MultiPersonSamples, PoseSamples, data_root
from training.datasets.coco import load_coco_keypoints, loss_mask
from training.datasets.flic import load_flic
from training.datasets.lspet import load_lspet
from training.datasets.mpii import load_mpii, load_mpii_json, load_mpii_mat

__all__ = ["DATA_ROOT_ENV", "DatasetError", "MultiPersonSamples", "PoseSamples", "data_root",
           "load_coco_keypoints", "load_flic", "load_lspet", "load_mpii", "load_mpii_json",
           "load_mpii_mat", "loss_mask"]
