"""Keypoint layouts (skeletons) defined once per dataset.

Each skeleton lists its joint names in the dataset's own order, the limbs used for drawing and for
PCP, and colours. Left/right flip pairs are *derived from the names* (``left_*`` <-> ``right_*``),
so they cannot drift from the joint order. Layouts follow mmpose's ``configs/_base_/datasets``.
"""

from __future__ import annotations

import dataclasses
from typing import Optional, Tuple

__all__ = ["Skeleton", "LSP14", "MPII16", "FLIC11", "COCO17", "get_skeleton", "SKELETONS",
           "joint_mapping"]


@dataclasses.dataclass(frozen=True)
class Skeleton:
    """A keypoint layout.

    Args:
        name: identifier, e.g. ``"lsp14"``.
        joint_names: joint names in the dataset's order; left/right joints must be named
            ``left_<part>`` / ``right_<part>``.
        limbs: pairs of joint names drawn as bones (and scored by PCP).
        torso: ``(a, b)`` joint-name pairs tried in order to measure the torso size for PCK.
        oks_sigmas: per-joint COCO OKS sigmas, when defined for this layout.
        tree: ``(parent, child)`` joint-name edges of a spanning tree, root first and every
            parent reached before its children: the limbs of bottom-up models (one part
            affinity field each) and the order in which their grouping assembles people.
    """

    name: str
    joint_names: Tuple[str, ...]
    limbs: Tuple[Tuple[str, str], ...]
    torso: Tuple[Tuple[str, str], ...] = ()
    oks_sigmas: Optional[Tuple[float, ...]] = None
    tree: Tuple[Tuple[str, str], ...] = ()

    def __post_init__(self):
        if len(set(self.joint_names)) != len(self.joint_names):
            raise ValueError(f"Skeleton {self.name!r} has duplicate joint names: {self.joint_names}")
        for a, b in self.limbs + self.torso:
            for j in (a, b):
                if j not in self.joint_names:
                    raise ValueError(f"Skeleton {self.name!r}: limb joint {j!r} is not a joint name")
        if self.tree:
            self._check_tree()
        if self.oks_sigmas is not None and len(self.oks_sigmas) != len(self.joint_names):
            raise ValueError(
                f"Skeleton {self.name!r}: {len(self.oks_sigmas)} OKS sigmas for "
                f"{len(self.joint_names)} joints"
            )

    def _check_tree(self):
        if len(self.tree) != len(self.joint_names) - 1:
            raise ValueError(f"Skeleton {self.name!r}: a tree over {len(self.joint_names)} joints has "
                             f"{len(self.joint_names) - 1} edges, got {len(self.tree)}")
        reached = {self.tree[0][0]}
        for parent, child in self.tree:
            for j in (parent, child):
                if j not in self.joint_names:
                    raise ValueError(f"Skeleton {self.name!r}: tree joint {j!r} is not a joint name")
            if parent not in reached:
                raise ValueError(f"Skeleton {self.name!r}: tree edge ({parent!r}, {child!r}) comes "
                                 f"before any edge reaching {parent!r}")
            if child in reached:
                raise ValueError(f"Skeleton {self.name!r}: tree joint {child!r} is reached twice")
            reached.add(child)

    @property
    def tree_index(self) -> Tuple[Tuple[int, int], ...]:
        """``tree`` as joint-index pairs ``(parent, child)``."""
        return tuple((self.index(a), self.index(b)) for a, b in self.tree)

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    def index(self, joint_name: str) -> int:
        try:
            return self.joint_names.index(joint_name)
        except ValueError:
            raise KeyError(f"{joint_name!r} is not a joint of {self.name}: {self.joint_names}") from None

    @property
    def flip_pairs(self) -> Tuple[Tuple[int, int], ...]:
        """Index pairs (left, right) swapped by a horizontal flip, derived from the names."""
        pairs = []
        for i, n in enumerate(self.joint_names):
            if n.startswith("left_"):
                mate = "right_" + n[len("left_"):]
                if mate not in self.joint_names:
                    raise ValueError(f"Skeleton {self.name!r}: {n!r} has no mirror joint {mate!r}")
                pairs.append((i, self.joint_names.index(mate)))
            elif n.startswith("right_") and "left_" + n[len("right_"):] not in self.joint_names:
                raise ValueError(f"Skeleton {self.name!r}: {n!r} has no mirror joint")
        return tuple(pairs)

    @property
    def flip_index(self) -> Tuple[int, ...]:
        """``flip_index[i]`` is the joint that joint ``i`` becomes after a horizontal flip."""
        idx = list(range(self.num_joints))
        for a, b in self.flip_pairs:
            idx[a], idx[b] = b, a
        return tuple(idx)

    @property
    def limb_index(self) -> Tuple[Tuple[int, int], ...]:
        return tuple((self.index(a), self.index(b)) for a, b in self.limbs)

    def limb_colour(self, limb: Tuple[str, str]) -> Tuple[int, int, int]:
        """RGB colour of a limb: orange for left, blue for right, green for the centre line."""
        a, b = limb
        if a.startswith("left_") or b.startswith("left_"):
            return (255, 140, 0)
        if a.startswith("right_") or b.startswith("right_"):
            return (30, 144, 255)
        return (50, 205, 50)

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "joint_names": list(self.joint_names),
            "flip_index": list(self.flip_index),
            "flip_pairs": [list(p) for p in self.flip_pairs],
            "limbs": [list(limb) for limb in self.limbs],
            **({"tree": [list(e) for e in self.tree]} if self.tree else {}),
        }


# Leeds Sports Pose (Johnson & Everingham, BMVC 2010 / CVPR 2011): order of joints.mat.
LSP14 = Skeleton(
    name="lsp14",
    joint_names=(
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "right_wrist", "right_elbow", "right_shoulder", "left_shoulder", "left_elbow",
        "left_wrist", "neck", "head_top",
    ),
    limbs=(
        ("right_ankle", "right_knee"), ("right_knee", "right_hip"),
        ("left_ankle", "left_knee"), ("left_knee", "left_hip"),
        ("right_wrist", "right_elbow"), ("right_elbow", "right_shoulder"),
        ("left_wrist", "left_elbow"), ("left_elbow", "left_shoulder"),
        ("right_shoulder", "right_hip"), ("left_shoulder", "left_hip"),
        ("right_hip", "left_hip"), ("right_shoulder", "left_shoulder"),
        ("neck", "head_top"),
    ),
    torso=(("left_shoulder", "right_hip"), ("right_shoulder", "left_hip")),
    # The 12 limb joints take COCO's sigmas; neck and head top take CrowdPose's (Li et al.,
    # CVPR 2019, https://arxiv.org/abs/1812.00324), whose 14 joints are LSP's.
    oks_sigmas=(0.089, 0.087, 0.107, 0.107, 0.087, 0.089, 0.062, 0.072, 0.079, 0.079, 0.072, 0.062,
                0.079, 0.079),
    # OpenPose-style tree rooted at the neck (Cao et al. 2017, COCO tree with neck -> hips).
    tree=(
        ("neck", "head_top"), ("neck", "right_shoulder"), ("neck", "left_shoulder"),
        ("neck", "right_hip"), ("neck", "left_hip"), ("right_shoulder", "right_elbow"),
        ("left_shoulder", "left_elbow"), ("right_hip", "right_knee"), ("left_hip", "left_knee"),
        ("right_elbow", "right_wrist"), ("left_elbow", "left_wrist"), ("right_knee", "right_ankle"),
        ("left_knee", "left_ankle"),
    ),
)

# MPII Human Pose (Andriluka et al., CVPR 2014): order of the official annotation ids 0..15.
MPII16 = Skeleton(
    name="mpii16",
    joint_names=(
        "right_ankle", "right_knee", "right_hip", "left_hip", "left_knee", "left_ankle",
        "pelvis", "thorax", "upper_neck", "head_top", "right_wrist", "right_elbow",
        "right_shoulder", "left_shoulder", "left_elbow", "left_wrist",
    ),
    limbs=(
        ("right_ankle", "right_knee"), ("right_knee", "right_hip"), ("right_hip", "pelvis"),
        ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("left_hip", "pelvis"),
        ("pelvis", "thorax"), ("thorax", "upper_neck"), ("upper_neck", "head_top"),
        ("right_wrist", "right_elbow"), ("right_elbow", "right_shoulder"),
        ("right_shoulder", "thorax"), ("left_wrist", "left_elbow"),
        ("left_elbow", "left_shoulder"), ("left_shoulder", "thorax"),
    ),
    torso=(("left_shoulder", "right_hip"), ("right_shoulder", "left_hip")),
)

# FLIC (Sapp & Taskar, CVPR 2013): the 11 joints used by its evaluation protocol (upper body).
FLIC11 = Skeleton(
    name="flic11",
    joint_names=(
        "left_shoulder", "left_elbow", "left_wrist", "right_shoulder", "right_elbow",
        "right_wrist", "left_hip", "right_hip", "left_eye", "right_eye", "nose",
    ),
    limbs=(
        ("left_shoulder", "left_elbow"), ("left_elbow", "left_wrist"),
        ("right_shoulder", "right_elbow"), ("right_elbow", "right_wrist"),
        ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"), ("left_hip", "right_hip"),
        ("left_eye", "nose"), ("right_eye", "nose"),
    ),
    torso=(("left_shoulder", "right_hip"), ("right_shoulder", "left_hip")),
)

# COCO keypoints (Lin et al., ECCV 2014); sigmas from the official cocoapi.
COCO17 = Skeleton(
    name="coco17",
    joint_names=(
        "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
        "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
        "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    ),
    limbs=(
        ("left_ankle", "left_knee"), ("left_knee", "left_hip"), ("right_ankle", "right_knee"),
        ("right_knee", "right_hip"), ("left_hip", "right_hip"), ("left_shoulder", "left_hip"),
        ("right_shoulder", "right_hip"), ("left_shoulder", "right_shoulder"),
        ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"),
        ("left_elbow", "left_wrist"), ("right_elbow", "right_wrist"), ("left_eye", "right_eye"),
        ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"),
        ("right_eye", "right_ear"), ("left_ear", "left_shoulder"), ("right_ear", "right_shoulder"),
    ),
    torso=(("left_shoulder", "right_hip"), ("right_shoulder", "left_hip")),
    oks_sigmas=(
        0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107,
        0.107, 0.087, 0.087, 0.089, 0.089,
    ),
    # OpenPose's COCO tree (Cao et al. 2017: 18 parts, a neck joining the shoulders, hips and
    # nose) without the neck, which COCO-17 lacks: the shoulder line takes its place (left ->
    # right shoulder, each shoulder -> its hip) and the head hangs from the left shoulder by the
    # nose (the paper's neck -> nose), then nose -> eyes -> ears as in the paper. Every other
    # edge is one of COCO's own limbs; COCO's cycles (hip - hip, eye - eye, nose - right eye,
    # ears - shoulders) are left out, since the grouping needs a tree.
    tree=(
        ("left_shoulder", "right_shoulder"), ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip"),
        ("left_shoulder", "left_elbow"), ("right_shoulder", "right_elbow"), ("left_elbow", "left_wrist"),
        ("right_elbow", "right_wrist"), ("left_hip", "left_knee"), ("right_hip", "right_knee"),
        ("left_knee", "left_ankle"), ("right_knee", "right_ankle"), ("left_shoulder", "nose"),
        ("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
    ),
)

SKELETONS = {s.name: s for s in (LSP14, MPII16, FLIC11, COCO17)}


def get_skeleton(name: str) -> Skeleton:
    """Returns the skeleton called ``name`` (``lsp14``, ``mpii16``, ``flic11``, ``coco17``)."""
    try:
        return SKELETONS[name]
    except KeyError:
        raise KeyError(f"Unknown skeleton {name!r}; known: {sorted(SKELETONS)}") from None


def joint_mapping(source: Skeleton, target: Skeleton) -> Tuple[int, ...]:
    """For each joint of ``target``, the index of the joint of ``source`` with the same name, or
    -1 where ``source`` has none (the joint is then unlabelled in the converted data).

    Matching is by name, so the conversion follows each skeleton's own order: from ``COCO17`` to
    ``LSP14`` the 12 limb joints map (``left_wrist`` -> COCO index 9) and ``neck`` / ``head_top``
    map to -1. Raises ``ValueError`` when the two layouts share no joint.
    """
    mapping = tuple(source.joint_names.index(n) if n in source.joint_names else -1
                    for n in target.joint_names)
    if all(i < 0 for i in mapping):
        raise ValueError(f"Skeletons {source.name!r} and {target.name!r} share no joint name")
    return mapping
