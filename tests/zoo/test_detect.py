"""The person box of single-person models (#30.1): on real labelled photos of the main job and of
the training sets the box ``find_person`` chooses holds every labelled joint of the person (the
box used to stop at the man's knees on the main job's photo and at a seated child's chest); with
several people it takes the largest, most central one and says how many it saw; with nobody it
says so. The default model on real photos; skips without the data."""

import json

import numpy as np
import pytest

#: (photo, where its labels are): the main job's photo and labelled photos of the training sets
#: (COCO, MPII subset, LSPet); the person is the photo's only or largest labelled one.
PHOTOS = [
    ("mpii-sample/060754485.jpg", "mpii-sample"),          # the main job: standing man, feet at the bottom
    ("coco-mini/train2017/000000463557.jpg", "coco"),      # seated child, legs towards the camera
    ("mpii-subset/images/005041677.jpg", "mpii-subset"),
    ("mpii-subset/images/009163821.jpg", "mpii-subset"),
    ("lspet/images/im00001.jpg", "lspet"),
]


def labelled_joints(root, photo: str, source: str) -> np.ndarray:
    """The labelled joints ``(N, 2)`` (image pixels) of the photo's person: its only one, or the
    one with the largest extent."""
    name = photo.rsplit("/", 1)[-1]
    if source == "mpii-sample":
        (record,) = [r for r in json.loads((root / "mpii-sample" / "test_mpii.json").read_text()) if r["image"] == name]
        return np.array(record["joints"], float)[np.array(record["joints_vis"]) > 0]
    if source == "mpii-subset":
        people = [np.array(r["joints"], float)[np.array(r["joints_vis"]) > 0]
                  for r in json.loads((root / "mpii-subset" / "annotations.json").read_text())
                  if r["image"] == f"images/{name}"]
        return max(people, key=lambda p: np.ptp(p, 0).max())
    if source == "coco":
        data = json.loads((root / "coco-mini" / "annotations" / "person_keypoints_train2017.json").read_text())
        (image_id,) = [i["id"] for i in data["images"] if i["file_name"] == name]
        people = [np.array(a["keypoints"], float).reshape(17, 3) for a in data["annotations"]
                  if a["image_id"] == image_id and a["num_keypoints"] > 0]
        person = max(people, key=lambda p: np.ptp(p[p[:, 2] > 0, :2], 0).max())
        return person[person[:, 2] > 0, :2]
    import scipy.io

    joints = scipy.io.loadmat(root / "lspet" / "joints.mat")["joints"]  # (14, 3, N)
    j = joints[:, :, int(name[2:7]) - 1]
    return j[j[:, 2] > 0, :2]


@pytest.fixture(scope="module")
def model():
    import zoo

    return zoo.load(zoo.most_accurate())


def inside(box, joints) -> np.ndarray:
    return (np.abs(joints - np.asarray(box.center)) <= box.side / 2).all(axis=1)


@pytest.mark.parametrize("photo, source", PHOTOS, ids=[p.rsplit("/", 1)[-1] for p, _ in PHOTOS])
def test_the_box_holds_every_labelled_joint(shared_data, model, photo, source):
    from zoo.detect import find_person
    from zoo.io import read_image

    if not (shared_data / photo).is_file():
        pytest.skip(f"{shared_data / photo} not found")
    joints = labelled_joints(shared_data, photo, source)
    box = find_person(read_image(shared_data / photo), model)
    outside = joints[~inside(box, joints)]
    assert not len(outside), (f"{photo}: box centre {np.round(box.center)}, side {box.side:.0f}: labelled joints "
                              f"{outside.round().tolist()} outside")
    assert box.people >= 1
    # Not the whole photo either: at most twice the protocol box of the labels.
    assert box.side <= 2 * 1.25 * np.ptp(joints, 0).max()


def test_several_people_the_largest_most_central_one_and_how_many(shared_data, model):
    """Five players on a baseball field: the batter, the largest person near the middle, not the
    player waiting in the background, whose clear upright pose scores higher. (COCO labels the
    waiting player, the catcher and the umpire but not the batter: his place is from the photo,
    x 262-346, y 176-292 of 640 x 427.)"""
    from zoo.detect import find_person
    from zoo.io import read_image

    photo = shared_data / "coco-mini/train2017/000000538113.jpg"
    if not photo.is_file():
        pytest.skip(f"{photo} not found")
    box = find_person(read_image(photo), model)
    x, y = box.center
    assert 262 <= x <= 346 and 176 <= y <= 292, box
    assert box.people >= 2


def test_no_person_found_is_said(model):
    from zoo.detect import find_person

    rng = np.random.default_rng(0)
    for image in (np.full((240, 320, 3), 128, np.uint8), rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)):
        box = find_person(image, model)
        assert box.people == 0, box
