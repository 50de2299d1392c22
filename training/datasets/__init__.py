"""Dataset loaders, one module per dataset, and the registry recipes name them by."""

from training.datasets.base import DATA_ROOT_ENV, DatasetError, MultiPersonSamples, PoseSamples, data_root
from training.datasets.coco import load_coco_keypoints, load_coco_people, load_coco_photos, loss_mask
from training.datasets.flic import load_flic
from training.datasets.lspet import load_lspet
from training.datasets.mpii import load_mpii, load_mpii_json, load_mpii_mat, load_mpii_subset

#: Single-person datasets a recipe names (``Experiment.dataset`` / ``datasets``): each a loader
#: ``(data root or file, split=train|val) -> PoseSamples`` in the dataset's own skeleton.
PERSON_DATASETS = {
    "lspet": load_lspet,            # LSPet, fixed split im00001-08100 / im08101-09000
    "mpii": load_mpii,              # the MPII release (.mat, its split) or an MPII-format JSON
    "mpii_subset": load_mpii_subset,  # the shared MPII subset, split by scene
    "coco_people": load_coco_people,  # people of the shared COCO train2017 photos, split by image id
}


def _box_loaders():
    """The box datasets (``training.box_people``), registered lazily: that module reads the
    photo loaders above."""
    from training.box_people import load_coco_boxes, load_mpii_boxes

    return {"coco_boxes": load_coco_boxes,      # the COCO training photos' people as the detector boxes them
            "mpii_boxes": load_mpii_boxes}      # the MPII subset's training photos' people, likewise


def person_dataset_names():
    """Every single-person dataset a recipe can name, sorted."""
    return sorted({**PERSON_DATASETS, **_box_loaders()})


def load_person_dataset(name: str, split: str, data=None) -> PoseSamples:
    """Samples of the registered single-person dataset ``name``."""
    loaders = {**PERSON_DATASETS, **_box_loaders()}
    try:
        loader = loaders[name]
    except KeyError:
        raise ValueError(f"unknown single-person dataset {name!r}; known: {sorted(loaders)}") from None
    return loader(data, split=split)


__all__ = ["DATA_ROOT_ENV", "DatasetError", "MultiPersonSamples", "PoseSamples", "PERSON_DATASETS", "data_root",
           "load_coco_keypoints", "load_coco_people", "load_coco_photos", "load_flic", "load_lspet", "load_mpii",
           "load_mpii_json", "load_mpii_mat", "load_mpii_subset", "load_person_dataset", "loss_mask",
           "person_dataset_names"]
