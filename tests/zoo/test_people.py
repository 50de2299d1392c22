"""Top-down multi-person prediction: boxes to crops to keypoints in image pixels, the refinement
that grows a box its joints leave, person scores, and a photo with nobody in it."""

import numpy as np

from zoo.people import top_down_people


def _predict_centre(size, score=0.9):
    """A pose model that puts every joint at the crop centre with ``score``."""
    def predict(crops):
        n = len(crops)
        return np.full((n, 3, 2), (size - 1) / 2.0, np.float32), np.full((n, 3), score, np.float32)
    return predict


def test_keypoints_come_back_to_image_pixels_best_person_first():
    image = np.zeros((200, 300, 3), np.uint8)
    boxes = np.array([[10, 20, 50, 100], [100, 100, 200, 180]], np.float32)  # x1, y1, x2, y2 (edges)
    people, scores = top_down_people(image, boxes, np.array([0.5, 0.9]), _predict_centre(64), 64, refine=False)
    assert people.shape == (2, 3, 3)
    # The crop centre is the box centre (pixel-centre convention: edges 10..50 -> centre 29.5).
    np.testing.assert_allclose(people[0, 0, :2], [149.5, 139.5], atol=1e-3)
    np.testing.assert_allclose(people[1, 0, :2], [29.5, 59.5], atol=1e-3)
    np.testing.assert_allclose(scores, [0.9 * 0.9, 0.5 * 0.9], rtol=1e-6)


def test_a_box_the_joints_leave_is_grown_and_predicted_again_but_never_shrunk():
    image = np.zeros((400, 400, 3), np.uint8)
    calls = []

    def predict(crops):
        calls.append(len(crops))
        n = len(crops)
        kps = np.zeros((n, 2, 2), np.float32)
        if len(calls) == 1:
            kps[:, 0] = (31.5, 31.5)   # centre
            kps[:, 1] = (31.5, 63.0)   # bottom edge of the crop: outside the detector's box
        else:
            kps[:, :] = (31.5, 31.5)
        return kps, np.full((n, 2), 0.9, np.float32)

    box = np.array([[100, 100, 200, 200]], np.float32)
    people, _ = top_down_people(image, box, np.array([1.0]), predict, 64, refine=True)
    assert calls == [1, 1]  # predicted again on the grown crop
    calls.clear()

    def head_only(crops):
        calls.append(len(crops))
        return np.full((len(crops), 2, 2), 31.5, np.float32), np.full((len(crops), 2), 0.9, np.float32)

    top_down_people(image, box, np.array([1.0]), head_only, 64, refine=True)
    assert calls == [1]  # joints inside the box: the box is kept, no second pass


def test_no_box_is_no_person():
    people, scores = top_down_people(np.zeros((10, 10, 3), np.uint8), np.zeros((0, 4)), np.zeros(0),
                                     _predict_centre(32), 32)
    assert people.shape[0] == 0 and scores.shape == (0,)


def test_a_photo_with_nobody_gives_zero_people_from_a_single_person_model():
    import zoo
    from zoo.architectures.simplebaseline import SimpleBaseline

    model = SimpleBaseline(backbone_stride=16, deconv_layers=2, head_filters=8, input_size=64, skeleton="coco17")
    model.build()
    detector = zoo.load("person-detector")
    people, scores = model.predict_people(np.full((300, 400, 3), 127, np.uint8), detector=detector)
    assert people.shape == (0, 17, 3) and scores.shape == (0,)
