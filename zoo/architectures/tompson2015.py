"""Efficient object localization using convolutional networks (Tompson, Goroshin, Jain, LeCun,
Bregler, CVPR 2015), https://arxiv.org/abs/1411.4280

Coarse heatmap model (Sec. 3, Fig. 3): the image at full, 1/2 and 1/4 resolution goes through a
convolutional bank of its own (5x5 convolutions with ReLU and 2x2 max-pooling, then a 9x9
convolution); the lower resolutions' outputs are upsampled and added to the full resolution's,
then SpatialDropout (Sec. 3.1: it drops whole feature maps, because neighbouring activations of
one map are strongly correlated and standard dropout would barely regularise them) and 1x1
convolutions give one heatmap per joint at 1/4 of the input resolution.

Fine (cascade) model (Sec. 4, Fig. 6-8): for every joint, a window of the coarse model's shared
feature maps (each bank's second convolution, before its second pooling) is cut out around the
coarse estimate (the maximum's cell), at every resolution; a fine network whose weights are shared
by all joints (the paper's Siamese network) turns the crops into one heatmap per joint inside its
window. The final location is the window centre plus the offset of the fine heatmap's maximum.
Both stages are supervised with a heatmap MSE (Sec. 4: the fine model's target is a Gaussian at
the truth inside each window), trained jointly, the fine loss flowing back into the shared
features; the fine model can also train alone on the frozen coarse model (``freeze_coarse``,
``training.experiments.tompson2015_phases``).

Scaled down for 2 CPU cores and phones: 128 px crops instead of 320x240 images, 32-64 filters in
the banks instead of 128-512, 3x3 convolutions in the fine network instead of 7x7 and 64 filters
at most; BatchNorm after each convolution (not in the paper, which predates it) so the model
trains from scratch in about an hour; the contrast normalisation (LCN) of the paper's input is
left out (the model normalises with the ImageNet mean and standard deviation as the zoo's other
models). The fine network's last 1x1 convolution has one filter per joint (joint ``k``'s window
reads output ``k``), so the shared network still knows which joint it refines.

Crops are bilinear sampling as two batched matrix products (``zoo.layers.crops``: TFLite builtin
``BATCH_MATMUL`` ops, no ``CropAndResize``); window centres fall on cell borders of the coarse
maps, which are cell borders of the full and half resolution's features, so those crops are exact
copies of feature cells, as the paper's crops (the quarter resolution's are interpolated).
"""

from __future__ import annotations

import keras
from keras import layers, ops

from zoo.architectures.base import HeatmapPoseModel
from zoo.codecs.heatmap import HeatmapDecoder
from zoo.layers.blocks import ConvBNReLU
from zoo.layers.crops import crop_windows

#: Scales of the image pyramid: full, 1/2 and 1/4 resolution.
MAX_SCALES = 3


@keras.saving.register_keras_serializable(package="zoo")
class CoarseBank(layers.Layer):
    """One resolution's convolutional bank (Fig. 3): 5x5 conv, pool, 5x5 conv, pool, 5x5 conv,
    ``context_kernel`` conv, each convolution with BatchNorm and ReLU.

    Call: ``x (N, S, S, 3)`` -> ``(shared (N, S/2, S/2, f2), out (N, S/4, S/4, f3))``: ``shared``
    is the second convolution's output, before its pooling (what the fine model crops).
    """

    def __init__(self, filters=(32, 48, 64), context_kernel: int = 9, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.context_kernel = tuple(int(f) for f in filters), int(context_kernel)
        f1, f2, f3 = self.filters
        self.conv1, self.conv2 = ConvBNReLU(f1, 5, name="conv1"), ConvBNReLU(f2, 5, name="conv2")
        self.conv3 = ConvBNReLU(f3, 5, name="conv3")
        self.conv4 = ConvBNReLU(f3, self.context_kernel, name="conv4")
        self.pool = layers.MaxPooling2D(2)

    def call(self, x, training=None):
        shared = self.conv2(self.pool(self.conv1(x, training=training)), training=training)
        out = self.conv3(self.pool(shared), training=training)
        return shared, self.conv4(out, training=training)

    def get_config(self):
        return {**super().get_config(), "filters": list(self.filters), "context_kernel": self.context_kernel}


@keras.saving.register_keras_serializable(package="zoo")
class PerJointConv(layers.Layer):
    """A 1x1 convolution with one filter per joint, joint ``k``'s filter applied to joint ``k``'s
    window only (a multiply and a sum: no Gather).

    Call: ``(N*K, P, P, C)`` windows, image-major -> ``(N, P, P, K)``: joint ``k``'s map in channel
    ``k``.
    """

    def __init__(self, num_joints: int, **kwargs):
        super().__init__(**kwargs)
        self.num_joints = int(num_joints)

    def build(self, input_shape):
        c = input_shape[-1]
        self.kernel = self.add_weight(shape=(self.num_joints, c), name="kernel",
                                      initializer=keras.initializers.RandomNormal(stddev=0.001))
        self.bias = self.add_weight(shape=(self.num_joints,), initializer="zeros", name="bias")

    def call(self, windows):
        p, c = windows.shape[1], windows.shape[3]
        x = ops.reshape(windows, (-1, self.num_joints, p, p, c))
        maps = ops.sum(x * self.kernel[None, :, None, None, :], axis=-1) + self.bias[None, :, None, None]
        return ops.transpose(maps, (0, 2, 3, 1))

    def get_config(self):
        return {**super().get_config(), "num_joints": self.num_joints}


@keras.saving.register_keras_serializable(package="zoo")
class FineModel(layers.Layer):
    """The fine heatmap model (Fig. 8), one instance shared by all joints: each resolution's crop
    through two 3x3 conv-BN-ReLU of its own, upsampled to the finest crop and summed, a 3x3
    conv-BN-ReLU, upsampled to ``out`` samples, and a 1x1 convolution per joint.

    Args:
        filters: channels of the fine network's convolutions.
        num_scales: resolutions of the crops (each half the previous one's samples).
        num_joints: K.
        upsample: factor from the finest crop to the fine heatmap.

    Call: ``[crops of each resolution (N*K, n / 2**r, n / 2**r, C_r)]`` -> ``(N, P, P, K)``.
    """

    def __init__(self, filters: int, num_scales: int, num_joints: int, upsample: int, **kwargs):
        super().__init__(**kwargs)
        self.filters, self.num_scales = int(filters), int(num_scales)
        self.num_joints, self.upsample = int(num_joints), int(upsample)
        self.branches = [[ConvBNReLU(self.filters, 3, name=f"scale{r}_conv{i + 1}") for i in range(2)]
                         for r in range(self.num_scales)]
        self.merge_up = [layers.UpSampling2D(2 ** r, interpolation="bilinear", name=f"scale{r}_upsample")
                         for r in range(1, self.num_scales)]
        self.merged = ConvBNReLU(self.filters, 3, name="merged_conv")
        self.to_heatmap = (layers.UpSampling2D(self.upsample, interpolation="bilinear", name="heatmap_upsample")
                           if self.upsample > 1 else None)
        self.output_conv = PerJointConv(self.num_joints, name="per_joint_output")

    def call(self, crops, training=None):
        total = None
        for r, (crop, branch) in enumerate(zip(crops, self.branches)):
            y = crop
            for conv in branch:
                y = conv(y, training=training)
            y = self.merge_up[r - 1](y) if r else y
            total = y if total is None else total + y
        y = self.merged(total, training=training)
        if self.to_heatmap is not None:
            y = self.to_heatmap(y)
        return self.output_conv(y)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "num_scales": self.num_scales,
                "num_joints": self.num_joints, "upsample": self.upsample}


@keras.saving.register_keras_serializable(package="zoo")
class FeatureWindows(layers.Layer):
    """Crops one window per joint out of each resolution's shared features (float32: pixel
    geometry in bfloat16 would be off by cells).

    Args:
        window: window side in input pixels.
        strides: input pixels per feature cell of each resolution's shared features.

    Call: ``([features (N, S / stride_r, S / stride_r, C_r)], centres (N, K, 2) input pixels)`` ->
    ``[(N*K, window / stride_r, window / stride_r, C_r)]``: one sample per feature cell.
    """

    def __init__(self, window: int, strides, **kwargs):
        super().__init__(**kwargs)
        self.window, self.strides = int(window), tuple(int(s) for s in strides)

    def call(self, features, centres):
        crops = []
        for f, stride in zip(features, self.strides):
            # Input pixel x lies at feature cell (x + 0.5) / stride - 0.5 (cells centred on pixels).
            cells = (centres + 0.5) / stride - 0.5
            side = self.window // stride
            sides = ops.zeros_like(cells[..., 0]) + float(side)
            crops.append(crop_windows(ops.cast(f, "float32"), cells[..., 0], cells[..., 1], sides, side))
        return crops

    def get_config(self):
        return {**super().get_config(), "window": self.window, "strides": list(self.strides)}


def gaussian_centres(heatmaps, sigma: float):
    """The centres of Gaussian target maps ``(N, H, W, K)`` (``HeatmapCodec.encode``: a separable
    Gaussian of standard deviation ``sigma`` cells), in cells, ``(N, K, 2)``.

    Exact, also for a Gaussian cut by the map's border: summed over rows, a map is ``C * g(u)``,
    and ``log g(u + 1) - log g(u) = -(2 (u - c) + 1) / (2 sigma^2)`` gives the centre ``c`` from
    any two neighbouring columns; the estimates are averaged with weights ``g(u) g(u + 1)`` (the
    cells far from the peak, where float32 loses the tail, weigh nothing). An all-zero map (an
    unlabelled joint) gives an arbitrary centre.
    """
    maps = ops.cast(heatmaps, "float32")

    def along(profile):  # profile (N, L, K) -> (N, K) centre along that axis
        p = ops.maximum(profile, 1e-30)
        log_p = ops.log(p)
        u = ops.cast(ops.arange(profile.shape[1] - 1), "float32")[None, :, None]
        estimates = u + 0.5 + sigma ** 2 * (log_p[:, 1:] - log_p[:, :-1])
        weights = profile[:, 1:] * profile[:, :-1]
        return ops.sum(weights * estimates, axis=1) / ops.maximum(ops.sum(weights, axis=1), 1e-30)

    return ops.stack([along(ops.sum(maps, axis=1)), along(ops.sum(maps, axis=2))], axis=-1)


@keras.saving.register_keras_serializable(package="zoo")
class Tompson2015(HeatmapPoseModel):
    """Multi-resolution coarse heatmaps with SpatialDropout, refined by a cascade on shared
    features (Tompson et al., CVPR 2015).

    Args:
        bank_filters: channels of each resolution's bank: its three 5x5 convolutions (the third
            also for the ``context_kernel`` convolution).
        context_kernel: kernel of the bank's last convolution (9 in the paper).
        num_scales: resolutions of the image pyramid (1: full only, 2: and 1/2, 3: and 1/4).
        head_filters: channels of the two 1x1 convolutions after the merge.
        spatial_dropout: rate of the SpatialDropout after the merge (whole feature maps).
        window: side of each joint's window of the fine model, in input pixels (a multiple of
            ``2 * 2 ** (num_scales - 1)``).
        fine_filters: channels of the fine network.
        fine_sigma: Gaussian sigma of the fine heatmaps' targets, in fine cells
            (``window / heatmap_size`` input pixels each).
        fine_loss_weight: weight of the fine heatmaps' MSE beside the coarse one.
        sigma, stride: the coarse heatmaps' (``HeatmapPoseModel``); stride 4.
        skeleton, input_size, mean, std: see ``HeatmapPoseModel``.

    Call returns ``(N, 2, H, W, K)``: the coarse heatmaps over the crop and the fine heatmaps,
    each joint's inside its own window (``H x W`` cells over ``window`` pixels, centred on
    ``window_centres``). ``stage_keypoints`` gives both stages in input pixels.

    Example:
    >>> model = Tompson2015(bank_filters=(8, 8, 8), head_filters=8, window=16, fine_filters=8,
    ...                     input_size=32, skeleton="mpii16")
    >>> model(np.zeros((1, 32, 32, 3), "uint8")).shape
    (1, 2, 8, 8, 16)
    """

    #: Kept float32 in int8 files: the decoders and the window geometry and crops.
    float_layers = ("decoder", "cascade")
    #: The network alone: the coarse heatmaps and each joint's fine heatmap in its window.
    raw_output_names = ("heatmaps", "fine_heatmaps")

    def __init__(self, bank_filters=(32, 48, 64), context_kernel: int = 9, num_scales: int = 3,
                 head_filters: int = 128, spatial_dropout: float = 0.2, window: int = 32, fine_filters: int = 32,
                 fine_sigma: float = 1.5, fine_loss_weight: float = 1.0, **kwargs):
        kwargs.setdefault("stride", 4)
        if kwargs["stride"] != 4:
            raise ValueError(f"Tompson2015 has output stride 4, got stride={kwargs['stride']!r}")
        if kwargs.get("flip_test"):
            raise ValueError("Tompson2015 does not support flip_test (its windows follow the unflipped maps), "
                             f"got flip_test={kwargs['flip_test']!r}")
        super().__init__(**kwargs)
        if len(bank_filters) != 3 or min(int(f) for f in bank_filters) < 1:
            raise ValueError(f"bank_filters needs 3 positive channel counts, got {bank_filters!r}")
        if not 1 <= int(num_scales) <= MAX_SCALES:
            raise ValueError(f"num_scales must be 1, 2 or 3, got {num_scales!r}")
        if not 0 <= float(spatial_dropout) < 1:
            raise ValueError(f"spatial_dropout must be in [0, 1), got {spatial_dropout!r}")
        if int(context_kernel) < 1 or int(head_filters) < 1 or int(fine_filters) < 1:
            raise ValueError(f"context_kernel, head_filters and fine_filters must be positive, got "
                             f"{context_kernel!r}, {head_filters!r}, {fine_filters!r}")
        coarsest = 2 * 2 ** (int(num_scales) - 1)  # input pixels per cell of the coarsest shared features
        if self.input_size % (4 * 2 ** (int(num_scales) - 1)):
            raise ValueError(f"input_size={self.input_size} must be divisible by 4 * 2**(num_scales - 1)")
        if int(window) <= 0 or int(window) % coarsest or self.heatmap_size % (int(window) // 2):
            raise ValueError(f"window must be a positive multiple of {coarsest} whose half divides the heatmap "
                             f"size {self.heatmap_size}, got window={window!r}")
        if not float(fine_sigma) > 0 or not float(fine_loss_weight) >= 0:
            raise ValueError(f"fine_sigma must be > 0 and fine_loss_weight >= 0, got {fine_sigma!r}, "
                             f"{fine_loss_weight!r}")
        self.bank_filters, self.context_kernel = tuple(int(f) for f in bank_filters), int(context_kernel)
        self.num_scales, self.head_filters = int(num_scales), int(head_filters)
        self.spatial_dropout, self.window, self.fine_filters = float(spatial_dropout), int(window), int(fine_filters)
        self.fine_sigma, self.fine_loss_weight = float(fine_sigma), float(fine_loss_weight)
        k = self.num_joints
        self.downsample = [layers.AveragePooling2D(2 ** r, name=f"downsample{2 ** r}")
                           for r in range(1, self.num_scales)]
        self.banks = [CoarseBank(self.bank_filters, self.context_kernel, name=f"bank_scale{r}")
                      for r in range(self.num_scales)]
        self.upsample = [layers.UpSampling2D(2 ** r, interpolation="bilinear", name=f"upsample{2 ** r}")
                         for r in range(1, self.num_scales)]
        self.dropout = layers.SpatialDropout2D(self.spatial_dropout, name="spatial_dropout")
        self.head = [ConvBNReLU(self.head_filters, 1, name=f"head_conv{i + 1}") for i in range(2)]
        # Small initial outputs: the maps start near the targets' zero background.
        self.coarse_output = layers.Conv2D(k, 1, name="coarse_heatmaps",
                                           kernel_initializer=keras.initializers.RandomNormal(stddev=0.001))
        self.windows = FeatureWindows(self.window, [2 * 2 ** r for r in range(self.num_scales)],
                                      dtype="float32", name="cascade_crop")
        self.fine = FineModel(self.fine_filters, self.num_scales, k, self.heatmap_size // (self.window // 2),
                              name="fine_model")
        # Fine maps: heatmap_size cells across the window, decoded in those cells.
        self.fine_decoder = HeatmapDecoder(stride=1, name="fine_decoder")
        #: Set by ``freeze_coarse``: the coarse model then runs as at inference, also in training.
        self.coarse_frozen = False

    @property
    def num_stages(self) -> int:
        return 2

    @property
    def fine_cell(self) -> float:
        """Input pixels per cell of the fine heatmaps."""
        return self.window / self.heatmap_size

    # -- forward ---------------------------------------------------------------------------
    def coarse(self, x, training=None):
        """Normalised images -> ``(coarse heatmaps (N, H, W, K), [shared features per scale])``.
        A frozen coarse model (``freeze_coarse``) runs as at inference, SpatialDropout included."""
        if self.coarse_frozen:
            training = False
        pyramid = [x] + [down(x) for down in self.downsample]
        shared, merged = [], None
        for r, (image, bank) in enumerate(zip(pyramid, self.banks)):
            features, out = bank(image, training=training)
            shared.append(features)
            merged = out if r == 0 else merged + self.upsample[r - 1](out)
        y = self.dropout(merged, training=training)
        for conv in self.head:
            y = conv(y, training=training)
        return self.coarse_output(y), shared

    def window_centres(self, coarse_maps):
        """Each joint's window centre ``(N, K, 2)`` in input pixels (no gradient: the paper crops
        at the coarse argmax): the border of the coarse maximum's cell on the side of its larger
        neighbour, the border nearest the decoded estimate (within half a cell of it). Cell borders
        of the coarse maps are cell borders of the full and half resolution's shared features too,
        so their windows cut whole feature cells: exact copies, as the paper's crops."""
        keypoints, _ = self.decoder(ops.stop_gradient(coarse_maps))
        with keras.name_scope("cascade_centres"):
            s = float(self.stride)
            # Cell u covers input pixels [s u - 0.5, s (u + 1) - 0.5); floor(v + 0.5) rounds a tie up
            # in TensorFlow and in TFLite alike.
            return s * ops.floor((keypoints + 0.5) / s + 0.5) - 0.5

    def cascade(self, x, training=None):
        """Normalised images -> ``(coarse maps (N, H, W, K), window centres (N, K, 2), fine maps
        (N, H, W, K))``."""
        coarse, shared = self.coarse(x, training=training)
        centres = self.window_centres(coarse)
        fine = self.fine(self.windows(shared, centres), training=training)
        return coarse, centres, fine

    def forward(self, x, training=None):
        coarse, _, fine = self.cascade(x, training=training)
        return ops.stack([coarse, ops.cast(fine, coarse.dtype)], axis=1)

    def heatmaps(self, images, training=False):
        """The coarse heatmaps over the crop ``(N, H, W, K)``."""
        return self.coarse(self.normalise(images), training=training)[0]

    def raw_outputs(self, images):
        coarse, _, fine = self.cascade(self.normalise(images), training=False)
        return coarse, fine

    def refine(self, centres, fine_maps):
        """``(refined keypoints (N, K, 2) input pixels, scores (N, K))``: each window centre plus
        the offset of its fine heatmap's maximum (Sec. 4)."""
        cells, scores = self.fine_decoder(fine_maps)
        with keras.name_scope("cascade_offset"):
            offsets = (cells + 0.5 - self.heatmap_size / 2.0) * self.fine_cell
            return centres + offsets, scores

    def stage_keypoints(self, images):
        coarse, centres, fine = self.cascade(self.normalise(images), training=False)
        coarse_kp, coarse_scores = self.decoder(coarse)
        fine_kp, fine_scores = self.refine(centres, fine)
        return ops.stack([coarse_kp, fine_kp], axis=1), ops.stack([coarse_scores, fine_scores], axis=1)

    def keypoints(self, images):
        _, centres, fine = self.cascade(self.normalise(images), training=False)
        return self.refine(centres, fine)

    # -- training --------------------------------------------------------------------------
    def fine_targets(self, coarse_targets, centres, weights):
        """The fine heatmaps' targets ``(N, H, W, K)`` and joint weights ``(N, K)``: a Gaussian of
        ``fine_sigma`` cells at the truth inside each window; weight 0 for a joint whose truth is
        outside its window or unlabelled. The truth is read off the coarse targets (exactly,
        ``gaussian_centres``), so the data pipeline encodes one set of targets with the codec."""
        s = float(self.stride)
        truth = (gaussian_centres(coarse_targets, self.codec.sigma) + 0.5) * s - 0.5  # (N, K, 2) input px
        h = self.heatmap_size
        cells = (truth - centres) / self.fine_cell + h / 2.0 - 0.5  # fine-map cells
        inside = ops.all((cells > -0.5) & (cells < h - 0.5), axis=-1)
        weights = ops.cast(weights, "float32") * ops.cast(inside, "float32")
        grid = ops.cast(ops.arange(h), "float32")
        two_var = 2.0 * self.fine_sigma ** 2
        gx = ops.exp(-ops.square(grid[None, None, :] - cells[..., 0:1]) / two_var)  # (N, K, W)
        gy = ops.exp(-ops.square(grid[None, None, :] - cells[..., 1:2]) / two_var)  # (N, K, H)
        maps = gy[:, :, :, None] * gx[:, :, None, :] * ops.cast(inside, "float32")[..., None, None]
        return ops.transpose(maps, (0, 2, 3, 1)), weights

    def fine_errors(self, y, y_pred):
        """Per-joint MSE ``(B, K)`` of the fine heatmaps (``y_pred[:, 1]``) against
        ``fine_targets``; 0 for a joint whose truth is outside its window (it carries no fine
        loss). Unlabelled joints are the caller's to weight out."""
        coarse = ops.cast(y_pred[:, 0], "float32")
        centres = self.window_centres(coarse)
        every_joint = ops.ones((ops.shape(coarse)[0], self.num_joints), "float32")
        targets, inside = self.fine_targets(y, centres, every_joint)
        err = ops.mean(ops.square(ops.cast(y_pred[:, 1], "float32") - targets), axis=(1, 2))
        return err * inside

    def fine_loss(self, y, y_pred, sample_weight=None):
        """``fine_errors`` weighted per joint by ``sample_weight (B, K)`` and averaged over the
        batch and joints, as Keras averages the compiled loss."""
        if sample_weight is None:  # fit(x, y) without joint weights: every joint labelled
            sample_weight = ops.ones((ops.shape(y_pred)[0], self.num_joints), "float32")
        weights = ops.cast(sample_weight, "float32")
        return ops.sum(self.fine_errors(y, y_pred) * weights) / ops.cast(ops.size(weights), "float32")

    def own_stage_errors(self):
        """Stage 2's loss metric is the fine loss per joint: its maps live in each joint's window,
        not over the crop the codec's targets cover."""
        return {1: self.fine_errors}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss on the coarse heatmaps (stage 1) plus ``fine_loss_weight`` x the fine
        heatmaps' MSE (both stages supervised, Sec. 4)."""
        from keras.src.losses.loss import scale_loss_for_distribution

        coarse = super().compute_loss(x=x, y=y, y_pred=y_pred[:, :1], sample_weight=sample_weight,
                                      training=training)
        fine = scale_loss_for_distribution(self.fine_loss(y, y_pred, sample_weight))
        return coarse + self.fine_loss_weight * fine

    def coarse_layers(self):
        """The coarse heatmap model's layers: the banks, the head and its output (the pooling,
        upsampling and dropout layers hold no weights)."""
        return [*self.banks, *self.head, self.coarse_output]

    def freeze_coarse(self, frozen: bool = True) -> None:
        """Freezes (or unfreezes) the coarse model, shared features included, so that only the
        fine model trains. The frozen coarse model runs as at inference (BatchNorm statistics and no
        SpatialDropout), so the fine model learns on the windows inference crops."""
        self.coarse_frozen = bool(frozen)
        for layer in self.coarse_layers():
            layer.trainable = not frozen

    def get_config(self):
        return {**super().get_config(), "bank_filters": list(self.bank_filters),
                "context_kernel": self.context_kernel, "num_scales": self.num_scales,
                "head_filters": self.head_filters, "spatial_dropout": self.spatial_dropout,
                "window": self.window, "fine_filters": self.fine_filters, "fine_sigma": self.fine_sigma,
                "fine_loss_weight": self.fine_loss_weight}
