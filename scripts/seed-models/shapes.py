"""Shapes drawn procedurally and a small convolutional network trained on them with numpy.

The data and the training behind the seeded Shape Classifier; make_seed_models.py exports the
trained network to ONNX, checks it and writes its card. Deterministic for a given seed.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from PIL import Image, ImageDraw

SHAPES = ["circle", "square", "triangle", "star", "cross", "heart"]
SHAPE_SIDE = 32  # the model's input is SHAPE_SIDE x SHAPE_SIDE RGB
SHAPE_SUPERSAMPLE = 4  # shapes are drawn this many times larger, then averaged down
SHAPE_TRAIN_PER_CLASS = 2000
SHAPE_TEST_PER_CLASS = 300
# Convolutions: (output channels, kernel size, followed by a 2x2 max pool). After the last one,
# a global max pool, then one fully connected layer to the classes.
SHAPE_LAYERS = [(12, 5, True), (24, 3, True), (48, 3, True), (64, 3, False)]
SHAPE_EPOCHS = 8
SHAPE_BATCH = 64
SHAPE_LEARNING_RATE = 3e-3
SHAPE_WEIGHT_DECAY = 1e-4
SHAPE_MIN_ACCURACY = 0.95
# The in-page sample images are drawn on a 160x160 canvas, as the page's drawing pad is.
SHAPE_CANVAS = 160


def shape_outline(kind: str, rng: np.random.Generator) -> np.ndarray:
    """The closed outline of a shape of radius about 1 around the origin (y points down)."""
    if kind == "circle":
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        return np.stack([np.cos(t), np.sin(t)], 1)
    if kind == "square":
        return np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * 0.8
    if kind == "triangle":
        t = np.pi / 2 + np.arange(3) * 2 * np.pi / 3
        return np.stack([np.cos(t), -np.sin(t)], 1) * 1.05
    if kind == "star":
        inner = rng.uniform(0.36, 0.5)
        t = -np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 1.0, inner)
        return np.stack([r * np.cos(t), r * np.sin(t)], 1)
    if kind == "cross":
        a = rng.uniform(0.22, 0.4)
        corners = [(a, -1), (a, -a), (1, -a), (1, a), (a, a), (a, 1),
                   (-a, 1), (-a, a), (-1, a), (-1, -a), (-a, -a), (-a, -1)]
        return np.array(corners, dtype=np.float64) * 0.95
    if kind == "heart":
        t = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        p = np.stack([x, y], 1)
        return (p - (p.max(0) + p.min(0)) / 2) / 17.0
    raise ValueError(kind)


def resample_path(points: np.ndarray, step: float, closed: bool) -> np.ndarray:
    """Points along a polyline every `step` units or so, so that it can be made to wobble."""
    path = np.vstack([points, points[:1]]) if closed else points
    out = []
    for start, delta in zip(path[:-1], np.diff(path, axis=0)):
        n = max(1, int(np.ceil(np.hypot(*delta) / step)))
        out += [start + delta * k / n for k in range(n)]
    if not closed:
        out.append(path[-1])
    return np.array(out)


def pen_strokes(kind: str, outline: np.ndarray, rng: np.random.Generator) -> list:
    """How a person might draw the shape's outline with a pen: a list of (points, closed)."""
    if kind == "star" and rng.random() < 0.5:  # a pentagram, in one stroke
        return [(outline[0::2][[0, 2, 4, 1, 3]], True)]
    if kind == "cross" and rng.random() < 0.5:  # two crossing lines
        return [(np.array([[0.0, -0.95], [0.0, 0.95]]), False),
                (np.array([[-0.95, 0.0], [0.95, 0.0]]), False)]
    return [(outline, True)]


def wobble(points: np.ndarray, closed: bool, rng: np.random.Generator) -> np.ndarray:
    """A hand-drawn look: slow waves along the path plus a little jitter."""
    points = resample_path(points, 0.15, closed)
    phase = np.arange(len(points))[:, None] / len(points) * 2 * np.pi
    waves = sum(rng.normal(0, 0.03, 2) * np.cos(f * phase + rng.uniform(0, 2 * np.pi, 2))
                for f in (2, 3, 5))
    return points + waves + rng.normal(0, 0.012, points.shape)


def luminance(rgb: np.ndarray) -> float:
    return float(0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2])


def shape_colours(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, bool]:
    """(background, ink, is_pen): dark ink on white paper 40% of the time, else any two
    colours that differ enough to be told apart."""
    if rng.random() < 0.4:
        paper = np.full(3, rng.uniform(0.85, 1.0)) - rng.uniform(0, 0.05, 3)
        ink = rng.uniform(0, 0.25, 3) if rng.random() < 0.7 else rng.uniform(0, 0.6, 3)
        return paper, ink, True
    while True:
        background, ink = rng.uniform(0, 1, 3), rng.uniform(0, 1, 3)
        contrast = abs(luminance(background) - luminance(ink))
        if contrast > 0.2 and np.abs(background - ink).max() > 0.35:
            return background, ink, False


def draw_shape(kind: str, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One training image, float [3, 32, 32] in 0..1, and its style (filled, outline or pen)."""
    outline = shape_outline(kind, rng)
    filled = rng.random() < 0.45
    strokes = [(outline, True)] if filled else pen_strokes(kind, outline, rng)
    aspect = np.exp(rng.normal(0, 0.12))
    # Hearts are drawn roughly upright; every other shape at any angle.
    theta = rng.uniform(-0.6, 0.6) if kind == "heart" else rng.uniform(0, 2 * np.pi)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    radius = rng.uniform(6.5, 15.0)
    paths = [((wobble(points, closed, rng) * [aspect, 1 / aspect]) @ rotation.T * radius, closed)
             for points, closed in strokes]
    every = np.vstack([points for points, _ in paths])
    low, high = every.min(0), every.max(0)
    centre = [
        rng.uniform(1 - low[d], SHAPE_SIDE - 1 - high[d]) if high[d] - low[d] < SHAPE_SIDE - 2
        else SHAPE_SIDE / 2 - (low[d] + high[d]) / 2
        for d in range(2)
    ]
    size = SHAPE_SIDE * SHAPE_SUPERSAMPLE
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    width = min(rng.uniform(1.2, 4.0), 0.3 * radius) * SHAPE_SUPERSAMPLE
    for points, closed in paths:
        xy = [tuple(p) for p in ((points + centre) * SHAPE_SUPERSAMPLE).tolist()]
        if filled:
            draw.polygon(xy, fill=255)
            continue
        if closed:  # a quarter of closed outlines are left a little open, as people draw
            gap = int(rng.uniform(0.0, 0.08) * len(xy)) if rng.random() < 0.25 else 0
            xy = xy[: len(xy) - gap] if gap else xy + xy[:1]
        draw.line(xy, fill=255, width=int(round(width)), joint="curve")
        for x, y in (xy[0], xy[-1]):  # round caps
            draw.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=255)
    fine = np.asarray(mask, dtype=np.float64) / 255.0
    if rng.random() < 0.3:  # point sampling, as a browser's plain downscale may do
        dy, dx = rng.integers(0, SHAPE_SUPERSAMPLE, 2)
        coverage = fine[dy::SHAPE_SUPERSAMPLE, dx::SHAPE_SUPERSAMPLE]
    else:
        coverage = box_downscale(fine, SHAPE_SUPERSAMPLE)
    background, ink, pen = shape_colours(rng)
    image = background[:, None, None] * (1 - coverage) + ink[:, None, None] * coverage
    image = image + rng.normal(0, rng.uniform(0, 0.06), image.shape)
    style = "filled" if filled else "pen" if pen else "outline"
    return np.clip(image, 0, 1), style


def box_downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Averages factor x factor blocks of the last two axes ([..., H, W])."""
    *lead, h, w = image.shape
    return image.reshape(*lead, h // factor, factor, w // factor, factor).mean(axis=(-3, -1))


def shape_dataset(per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Images [N, 3, 32, 32] float32, labels and styles, the classes interleaved."""
    rng = np.random.default_rng(seed)
    images, labels, styles = [], [], []
    for _ in range(per_class):
        for label, kind in enumerate(SHAPES):
            image, style = draw_shape(kind, rng)
            images.append(image)
            labels.append(label)
            styles.append(style)
    return np.array(images, dtype=np.float32), np.array(labels), np.array(styles)


class ConvLayer:
    """A same-padded, stride-1 convolution on NHWC activations, as an im2col matrix product.

    The weight is [kernel * kernel * in_channels, out_channels], rows in (ky, kx, c) order.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, rng: np.random.Generator):
        fan_in = kernel * kernel * in_channels
        self.kernel = kernel
        he = rng.standard_normal((fan_in, out_channels)) * np.sqrt(2.0 / fan_in)
        self.weight = he.astype(np.float32)
        self.bias = np.zeros(out_channels, dtype=np.float32)

    def forward(self, x: np.ndarray) -> np.ndarray:
        p = self.kernel // 2
        padded = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
        windows = sliding_window_view(padded, (self.kernel, self.kernel), axis=(1, 2))
        self.columns = windows.transpose(0, 1, 2, 4, 5, 3).reshape(*x.shape[:3], -1)
        self.in_shape = x.shape
        return self.columns @ self.weight + self.bias

    def backward(self, dy: np.ndarray, need_dx: bool) -> np.ndarray | None:
        n, h, w, c = self.in_shape
        k, p = self.kernel, self.kernel // 2
        dy = dy.reshape(-1, dy.shape[-1])
        self.d_weight = self.columns.reshape(-1, self.columns.shape[-1]).T @ dy
        self.d_bias = dy.sum(0)
        if not need_dx:
            return None
        d_columns = (dy @ self.weight.T).reshape(n, h, w, k, k, c)
        dx = np.zeros((n, h + 2 * p, w + 2 * p, c), dtype=np.float32)
        for i in range(k):
            for j in range(k):
                dx[:, i:i + h, j:j + w] += d_columns[:, :, :, i, j]
        return dx[:, p:p + h, p:p + w]

    def onnx_weight(self) -> np.ndarray:
        """The weight as ONNX Conv wants it: [out, in, ky, kx]."""
        k = self.kernel
        c = self.weight.shape[0] // (k * k)
        return self.weight.reshape(k, k, c, -1).transpose(3, 2, 0, 1)


class ShapeNet:
    """Conv-Relu(-MaxPool) blocks, a global max pool and a fully connected layer (NHWC)."""

    def __init__(self, n_classes: int, rng: np.random.Generator):
        self.convs, self.pools = [], []
        channels = 3
        for out_channels, kernel, pool in SHAPE_LAYERS:
            self.convs.append(ConvLayer(channels, out_channels, kernel, rng))
            self.pools.append(pool)
            channels = out_channels
        fc = rng.standard_normal((channels, n_classes)) / np.sqrt(channels)
        self.fc_weight = fc.astype(np.float32)
        self.fc_bias = np.zeros(n_classes, dtype=np.float32)

    def parameters(self) -> list[np.ndarray]:
        convs = [t for conv in self.convs for t in (conv.weight, conv.bias)]
        return convs + [self.fc_weight, self.fc_bias]

    def gradients(self) -> list[np.ndarray]:
        convs = [t for conv in self.convs for t in (conv.d_weight, conv.d_bias)]
        return convs + [self.d_fc_weight, self.d_fc_bias]

    def parameter_count(self) -> int:
        return sum(p.size for p in self.parameters())

    def logits(self, x: np.ndarray) -> np.ndarray:
        self.saved = []
        h = x
        for conv, pool in zip(self.convs, self.pools):
            h = np.maximum(conv.forward(h), 0)
            if pool:
                n, hh, ww, c = h.shape
                blocks = h.reshape(n, hh // 2, 2, ww // 2, 2, c)
                pooled = blocks.max(axis=(2, 4))
                self.saved.append((h, blocks, pooled))
                h = pooled
            else:
                self.saved.append((h, None, None))
        n, hh, ww, c = h.shape
        self.last_shape = h.shape
        self.argmax = h.reshape(n, hh * ww, c).argmax(1)
        self.features = h.reshape(n, hh * ww, c).max(1)
        return self.features @ self.fc_weight + self.fc_bias

    def backward(self, d_logits: np.ndarray) -> None:
        self.d_fc_weight = self.features.T @ d_logits
        self.d_fc_bias = d_logits.sum(0)
        n, hh, ww, c = self.last_shape
        dh = np.zeros((n, hh * ww, c), dtype=np.float32)
        np.put_along_axis(dh, self.argmax[:, None, :], (d_logits @ self.fc_weight.T)[:, None, :], 1)
        dh = dh.reshape(self.last_shape)
        for i in reversed(range(len(self.convs))):
            h, blocks, pooled = self.saved[i]
            if blocks is not None:  # to the maxima of each 2x2 block (ties are all zeros)
                winners = (blocks == pooled[:, :, None, :, None, :]) & (blocks > 0)
                dh = (winners * dh[:, :, None, :, None, :]).reshape(h.shape).astype(np.float32)
            dh = self.convs[i].backward(dh * (h > 0), need_dx=i > 0)

    def predict_proba(self, x_nchw: np.ndarray, batch: int = 500) -> np.ndarray:
        x = np.ascontiguousarray(x_nchw.transpose(0, 2, 3, 1), dtype=np.float32)
        batches = [softmax(self.logits(x[i:i + batch])) for i in range(0, len(x), batch)]
        return np.concatenate(batches)


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def train_shape_net(x_nchw: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> ShapeNet:
    """Mini-batch Adam on the cross-entropy, cosine learning-rate decay, L2 weight decay, and each
    batch flipped or transposed at random (none of the classes changes under those)."""
    x = np.ascontiguousarray(x_nchw.transpose(0, 2, 3, 1))
    net = ShapeNet(len(SHAPES), rng)
    params = net.parameters()
    first = [np.zeros_like(p) for p in params]
    second = [np.zeros_like(p) for p in params]
    steps_per_epoch = len(x) // SHAPE_BATCH
    total = SHAPE_EPOCHS * steps_per_epoch
    step = 0
    for epoch in range(SHAPE_EPOCHS):
        order = rng.permutation(len(x))
        loss = 0.0
        for s in range(steps_per_epoch):
            idx = order[s * SHAPE_BATCH:(s + 1) * SHAPE_BATCH]
            batch = x[idx]
            flips = rng.integers(0, 8)
            if flips & 1:
                batch = batch[:, ::-1]
            if flips & 2:
                batch = batch[:, :, ::-1]
            if flips & 4:
                batch = batch.transpose(0, 2, 1, 3)
            p = softmax(net.logits(np.ascontiguousarray(batch)))
            rows = np.arange(len(idx))
            loss += float(-np.log(p[rows, y[idx]] + 1e-12).mean())
            p[rows, y[idx]] -= 1
            net.backward((p / len(idx)).astype(np.float32))
            step += 1
            rate = SHAPE_LEARNING_RATE * 0.5 * (1 + np.cos(np.pi * step / total))
            for i, (param, grad) in enumerate(zip(params, net.gradients())):
                grad = grad + SHAPE_WEIGHT_DECAY * param
                first[i] = 0.9 * first[i] + 0.1 * grad
                second[i] = 0.999 * second[i] + 0.001 * grad * grad
                mean, square = first[i] / (1 - 0.9**step), second[i] / (1 - 0.999**step)
                update = rate * mean / (np.sqrt(square) + 1e-8)
                param -= update.astype(np.float32)
        print(f"    epoch {epoch + 1}/{SHAPE_EPOCHS}: training loss {loss / steps_per_epoch:.4f}")
    return net


def pen_line(draw: ImageDraw.ImageDraw, points: list, colour: tuple, width: int,
             closed: bool) -> None:
    """A stroke as a canvas draws it with round caps and joins."""
    xy = [tuple(map(float, p)) for p in points] + ([tuple(map(float, points[0]))] if closed else [])
    draw.line(xy, fill=colour, width=width, joint="curve")
    for x, y in xy:
        draw.ellipse([x - width / 2, y - width / 2, x + width / 2, y + width / 2], fill=colour)


def drawn_samples() -> dict[str, np.ndarray]:
    """Three hand-placed drawings on a 160x160 canvas, made without the training generator: a
    pentagram in the page's own pen (black, 16 px, on white), a filled heart built from two
    discs and a triangle, and a light triangle outline on a dark background."""
    side = SHAPE_CANVAS
    star = Image.new("RGB", (side, side), (255, 255, 255))
    points = [(80, 18), (118, 138), (20, 62), (142, 64), (40, 136)]
    pen_line(ImageDraw.Draw(star), points, (0, 0, 0), 16, closed=True)

    heart = Image.new("RGB", (side, side), (255, 244, 214))
    draw = ImageDraw.Draw(heart)
    red = (214, 40, 57)
    for cx in (55, 105):
        draw.ellipse([cx - 29, 34, cx + 29, 92], fill=red)
    draw.polygon([(28, 72), (132, 72), (80, 136)], fill=red)

    triangle = Image.new("RGB", (side, side), (29, 53, 87))
    corners = [(84, 26), (140, 126), (26, 118)]
    pen_line(ImageDraw.Draw(triangle), corners, (255, 210, 63), 12, closed=True)
    return {"star": np.asarray(star), "heart": np.asarray(heart), "triangle": np.asarray(triangle)}
