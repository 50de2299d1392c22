"""Drawing several people (#30.5): each person in their own colour, left and right still told
apart by shade; one person keeps the default colours. Synthetic poses, no model."""

import numpy as np

from zoo.skeletons import LSP14


def _pose(x0: float) -> np.ndarray:
    """An upright LSP-14 pose, 100 px tall, its centre line at ``x0``, arms held out."""
    j = dict(right_ankle=(x0 - 10, 190), right_knee=(x0 - 10, 160), right_hip=(x0 - 10, 130),
             left_hip=(x0 + 10, 130), left_knee=(x0 + 10, 160), left_ankle=(x0 + 10, 190),
             right_wrist=(x0 - 50, 100), right_elbow=(x0 - 30, 100), right_shoulder=(x0 - 12, 100),
             left_shoulder=(x0 + 12, 100), left_elbow=(x0 + 30, 100), left_wrist=(x0 + 50, 100),
             neck=(x0, 95), head_top=(x0, 70))
    return np.array([j[n] for n in LSP14.joint_names], np.float64)


def _pixel(image, a, b, keypoints):
    """The colour drawn halfway along the limb from joint ``a`` to joint ``b``."""
    names = LSP14.joint_names
    x, y = (keypoints[names.index(a)] + keypoints[names.index(b)]) / 2
    return tuple(int(v) for v in image[int(round(y)), int(round(x))])


def test_each_person_has_own_hue_and_left_right_shades():
    from zoo.visualize import draw_skeleton, person_colours

    image = np.zeros((220, 300, 3), np.uint8)
    first, second = _pose(80), _pose(220)
    drawn = draw_skeleton(image, first, LSP14, thickness=3, person=0)
    drawn = draw_skeleton(drawn, second, LSP14, thickness=3, person=1)
    c0, c1 = person_colours(0), person_colours(1)
    assert _pixel(drawn, "left_knee", "left_ankle", first) == c0["left"]
    assert _pixel(drawn, "right_knee", "right_ankle", first) == c0["right"]
    assert _pixel(drawn, "left_knee", "left_ankle", second) == c1["left"]
    assert _pixel(drawn, "right_knee", "right_ankle", second) == c1["right"]
    # Whose limb it is: every colour of one person differs from every colour of the other.
    assert not set(c0.values()) & set(c1.values())
    # Left and right of one person: the same hue, clearly different lightness.
    for c in (c0, c1):
        assert sum(c["left"]) - sum(c["right"]) > 150
        assert np.argmax(c["left"]) == np.argmax(c["centre"]) == np.argmax(c["right"])
    # Ten distinct hues before a colour comes round again.
    assert len({person_colours(i)["centre"] for i in range(10)}) == 10
    assert person_colours(10) == person_colours(0)


def test_one_person_keeps_the_default_colours():
    from zoo.visualize import draw_skeleton

    pose = _pose(150)
    drawn = draw_skeleton(np.zeros((220, 300, 3), np.uint8), pose, LSP14, thickness=3)
    assert _pixel(drawn, "left_knee", "left_ankle", pose) == LSP14.limb_colour(("left_knee", "left_ankle"))
    assert _pixel(drawn, "right_knee", "right_ankle", pose) == LSP14.limb_colour(("right_knee", "right_ankle"))
