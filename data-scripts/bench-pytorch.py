#!/usr/bin/env python3
"""PyTorch twins of `ftf bench psmnet --reference` and `ftf bench detect --reference`.

The same architectures, input sizes, batch sizes, losses and optimisers as the `ftf bench` rows,
run by the reference implementations' own code (the module classes of
data-scripts/reference-fixtures.py: JiaRenChang/PSMNet's stacked hourglass, OpenPCDet's
PointPillars parts), so that a user can compare the two on the CPU they have:

    pip install torch numpy
    python3 data-scripts/bench-pytorch.py --threads 2 --repeat 5 [--root runs/synthetic-quick/data]
        [--only psmnet|detect] [--size tiny|reference]
    cargo run --release -- bench psmnet --reference --threads 2 --repeat 5
    cargo run --release -- bench detect --reference --threads 2 --repeat 5

Rows (each timed after three untimed warm-up calls, mean and min over --repeat):
  * PSMNet training step: train mode (three outputs, trilinear upsampling, soft argmin), the
    official loss (smooth L1 on pixels with 0 < d < max disparity, weights 0.5/0.7/1.0), backward,
    Adam at 1e-3; random images and disparities uniform in [1, 30], as `ftf bench`.
  * PSMNet inference: eval mode under no_grad on a frame padded to a multiple of 16 (as the
    official test code), cropped back.
  * PointPillars training step: pillarisation is data loading in OpenPCDet and not timed (as in
    `ftf bench`, whose prepared frames are built before the timer); PillarVFE, the scatter, the
    backbone and the 1x1 heads in train mode, OpenPCDet's losses (sigmoid focal loss on every
    anchor, smooth L1 on the sin-difference-encoded boxes of the positives, direction cross
    entropy) against fixed targets, backward, AdamW at 1e-3.
  * PointPillars inference + NMS: pillarisation of the frame's points (vectorised torch, the
    rule of `ftf`'s pillarise: first come, first served), the network in eval mode, sigmoid
    scores above 0.1, the top 4096, box decoding and greedy NMS (bird's-eye view, axis-aligned
    here: OpenPCDet's rotated NMS has no CPU kernel; an untrained network scores every anchor
    near its 0.01 prior, so no box reaches it in either program).

With --root, the detector rows use the LiDAR of the root's first four frames in the camera view
(`ftf bench detect` generates frames 0-3 of the synthetic generator at seed 0, scale 0.5: the
first four of a `ftf synth` root made with those settings, such as the quick study's); without it, 17,000 random
points in the box x 0-50 m, y ±20 m, z -2-0.5 m.
"""
import argparse
import importlib.util
import math
import os
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.util.spec_from_file_location("fixtures", os.path.join(HERE, "reference-fixtures.py"))
ref = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ref)


def timed(name, repeat, f, warmup=3):
    for _ in range(warmup):  # PyTorch's first calls set up kernels and allocations
        f(0)
    times = []
    for i in range(repeat):
        t = time.perf_counter()
        f(i + 1)
        times.append((time.perf_counter() - t) * 1000.0)
    mean, low = sum(times) / len(times), min(times)
    print("| %-58s | %10.2f | %10.2f |" % (name, mean, low), flush=True)
    return mean, low


# --- PSMNet -----------------------------------------------------------------------------------

class TrainPSMNet(ref.PSMNet):
    """stackhourglass.py's training branch: the three upsampled, regressed outputs."""

    def forward(self, left, right):
        disp = torch.arange(self.maxdisp, dtype=left.dtype).reshape(1, self.maxdisp, 1, 1)
        preds = []
        for cv in self.costs(left, right):
            cv = F.interpolate(cv, [self.maxdisp, left.size()[2], left.size()[3]],
                               mode="trilinear", align_corners=False)
            preds.append(torch.sum(F.softmax(torch.squeeze(cv, 1), dim=1) * disp, 1))
        return preds


def clamp_pools(model, h, w):
    """A pool larger than the 1/4-resolution map becomes global pooling, as in `ftf` (the
    official code needs 256 x 512 crops for its 64-pixel pool; `ftf bench` uses 64 x 128)."""
    fe = model.feature_extraction
    for i in range(fe.branches):
        pool = getattr(fe, "branch%d" % (i + 1))[0]
        p = pool.original if hasattr(pool, "original") else pool.kernel_size[0]
        pool.original = p
        pool.kernel_size = pool.stride = (min(p, h // 4), min(p, w // 4))


def psmnet_rows(name, maxdisp, kwargs, crop, batch, frame, repeat):
    torch.manual_seed(0)
    model = TrainPSMNet(maxdisp, **kwargs)
    model.train()
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, betas=(0.9, 0.999))
    h, w = crop
    left, right = torch.rand(batch, 3, h, w), torch.rand(batch, 3, h, w)
    gt = torch.rand(batch, h, w) * 29.0 + 1.0
    clamp_pools(model, h, w)

    def step(_):
        optim.zero_grad()
        p1, p2, p3 = model(left, right)
        mask = (gt > 0) & (gt < maxdisp)
        loss = (0.5 * F.smooth_l1_loss(p1[mask], gt[mask]) + 0.7 * F.smooth_l1_loss(p2[mask], gt[mask])
                + F.smooth_l1_loss(p3[mask], gt[mask]))
        loss.backward()
        optim.step()

    timed("%s: training step, batch %d x %dx%d crops" % (name, batch, h, w), repeat, step)
    model.eval()
    fw, fh = frame
    pw, ph = (fw + 15) // 16 * 16, (fh + 15) // 16 * 16
    l, r = torch.rand(1, 3, ph, pw), torch.rand(1, 3, ph, pw)
    clamp_pools(model, ph, pw)

    def infer(_):
        with torch.no_grad():
            out = ref.PSMNet.forward(model, l, r)
            out[:, ph - fh:, :fw].contiguous()

    timed("%s: inference, %dx%d frame (padded %dx%d)" % (name, fw, fh, pw, ph), repeat, infer)


# --- PointPillars -----------------------------------------------------------------------------

def read_calib(path):
    m = {}
    for line in open(path):
        if ":" in line:
            k, v = line.split(":", 1)
            vals = [float(x) for x in v.split()]
            if vals:
                m[k.strip()] = np.array(vals)
    p2 = m["P2"].reshape(3, 4)
    r0 = np.eye(4)
    r0[:3, :3] = m["R0_rect"].reshape(3, 3)
    tr = np.eye(4)
    tr[:3, :4] = m["Tr_velo_to_cam"].reshape(3, 4)
    return p2 @ r0 @ tr


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    return struct.unpack(">II", head[16:24])


def view_points(root, frame_id):
    pts = np.fromfile(os.path.join(root, "training/velodyne", frame_id + ".bin"),
                      dtype=np.float32).reshape(-1, 4)
    proj = read_calib(os.path.join(root, "training/calib", frame_id + ".txt"))
    w, h = png_size(os.path.join(root, "training/image_2", frame_id + ".png"))
    hom = np.concatenate([pts[:, :3].astype(np.float64), np.ones((len(pts), 1))], 1) @ proj.T
    z = hom[:, 2]
    with np.errstate(divide="ignore", invalid="ignore"):
        u, v = hom[:, 0] / z, hom[:, 1] / z
    keep = (z > 0) & (u >= 0) & (u < w) & (v >= 0) & (v < h)
    return torch.from_numpy(pts[keep].copy())


class Grid:
    def __init__(self, rng, size, max_points, max_pillars):
        self.rng, self.size = rng, size
        self.nx = int(round((rng[3] - rng[0]) / size))
        self.ny = int(round((rng[4] - rng[1]) / size))
        self.max_points, self.max_pillars = max_points, max_pillars


def pillarise(points, g):
    """ftf's rule, vectorised: pillars in order of their first point, points in order."""
    x0, y0, z0, x1, y1, z1 = g.rng
    p = points
    keep = (p[:, 0] >= x0) & (p[:, 0] < x1) & (p[:, 1] >= y0) & (p[:, 1] < y1) & \
        (p[:, 2] >= z0) & (p[:, 2] < z1)
    p = p[keep]
    ix = ((p[:, 0] - x0) / g.size).long().clamp_(max=g.nx - 1)
    iy = ((p[:, 1] - y0) / g.size).long().clamp_(max=g.ny - 1)
    cell = iy * g.nx + ix
    uniq, inverse = torch.unique(cell, return_inverse=True)
    first = torch.full((len(uniq),), len(cell), dtype=torch.long).scatter_reduce_(
        0, inverse, torch.arange(len(cell)), reduce="amin")
    order = torch.argsort(first)  # pillars by first point
    rank_of = torch.empty_like(order)
    rank_of[order] = torch.arange(len(order))
    pillar = rank_of[inverse]
    sel = pillar < g.max_pillars
    p, pillar, cell = p[sel], pillar[sel], cell[sel]
    n_pillars = min(len(order), g.max_pillars)
    # slot of each point inside its pillar: stable sort by pillar, position minus run start
    srt = torch.argsort(pillar, stable=True)
    counts = torch.bincount(pillar, minlength=n_pillars)
    starts = torch.cumsum(counts, 0) - counts
    slot = torch.empty_like(pillar)
    slot[srt] = torch.arange(len(srt)) - starts[pillar[srt]]
    sel = slot < g.max_points
    p, pillar, slot, cell = p[sel], pillar[sel], slot[sel], cell[sel]
    kept = torch.bincount(pillar, minlength=n_pillars).clamp(min=1).to(p.dtype)
    mean = torch.zeros(n_pillars, 3).index_add_(0, pillar, p[:, :3]) / kept[:, None]
    cells = torch.zeros(n_pillars, dtype=torch.long).scatter_(0, pillar, cell)
    cx = (cells % g.nx).to(p.dtype) * g.size + x0 + g.size / 2
    cy = (cells // g.nx).to(p.dtype) * g.size + y0 + g.size / 2
    cz = torch.full_like(cx, (z0 + z1) / 2)
    feat = torch.cat([p, p[:, :3] - mean[pillar],
                      p[:, :3] - torch.stack([cx, cy, cz], 1)[pillar]], 1)
    out = torch.zeros(n_pillars, g.max_points, 10)
    out[pillar, slot] = feat
    coords = torch.stack([torch.zeros_like(cells), torch.zeros_like(cells), cells // g.nx,
                          cells % g.nx], 1)
    return out, coords


def batch_pillars(frames, g):
    feats, coords = [], []
    for b, pts in enumerate(frames):
        f, c = pillarise(pts, g)
        c[:, 0] = b
        feats.append(f)
        coords.append(c)
    return torch.cat(feats), torch.cat(coords)


def focal_loss(logits, labels, weights, alpha=0.25, gamma=2.0):
    p = torch.sigmoid(logits)
    alpha_w = labels * alpha + (1 - labels) * (1 - alpha)
    pt = labels * (1 - p) + (1 - labels) * p
    bce = F.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    return (alpha_w * pt.pow(gamma) * bce * weights[..., None]).sum()


def detector_loss(cls, box, dir_cls, t):
    labels, box_t, dir_t, pos = t
    n_pos = pos.sum().clamp(min=1.0)
    cls_w = torch.ones_like(pos) / n_pos
    l_cls = focal_loss(cls, labels, cls_w)
    # sin-difference encoding (OpenPCDet's add_sin_difference)
    b1 = torch.cat([box[..., :6], torch.sin(box[..., 6:7]) * torch.cos(box_t[..., 6:7])], -1)
    b2 = torch.cat([box_t[..., :6], torch.cos(box[..., 6:7]) * torch.sin(box_t[..., 6:7])], -1)
    diff = (b1 - b2).abs()
    sl1 = torch.where(diff < 1 / 9, 4.5 * diff * diff, diff - 0.5 / 9)
    l_box = (sl1.sum(-1) * pos / n_pos).sum() * 2.0
    l_dir = (F.cross_entropy(dir_cls.reshape(-1, 2), dir_t.reshape(-1), reduction="none")
             * pos.reshape(-1) / n_pos).sum() * 0.2
    return l_cls + l_box + l_dir


def nms_bev(boxes, scores, thresh):
    x1, y1 = boxes[:, 0] - boxes[:, 3] / 2, boxes[:, 1] - boxes[:, 4] / 2
    x2, y2 = boxes[:, 0] + boxes[:, 3] / 2, boxes[:, 1] + boxes[:, 4] / 2
    order = torch.argsort(scores, descending=True)
    area = (x2 - x1) * (y2 - y1)
    keep = []
    while len(order) > 0:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        iw = (torch.minimum(x2[i], x2[rest]) - torch.maximum(x1[i], x1[rest])).clamp(min=0)
        ih = (torch.minimum(y2[i], y2[rest]) - torch.maximum(y1[i], y1[rest])).clamp(min=0)
        inter = iw * ih
        order = rest[inter / (area[i] + area[rest] - inter) <= thresh]
    return keep


def pointpillars_rows(name, net, g, frames, batch, repeat):
    torch.manual_seed(0)
    model = ref.PointPillar(*net)
    with torch.no_grad():  # OpenPCDet's class prior
        model.dense_head.conv_cls.bias.fill_(-math.log((1 - 0.01) / 0.01))
    anchors_per_cell, classes = net[6], net[7]
    model.train()
    optim = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01)
    feats, coords = batch_pillars([frames[i % len(frames)] for i in range(batch)], g)
    cells = (g.nx // 2) * (g.ny // 2) * anchors_per_cell
    gen = torch.Generator().manual_seed(1)
    pos = (torch.rand(batch, cells, generator=gen) < 0.002).float()
    labels = pos[..., None].expand(batch, cells, classes).contiguous()
    box_t = torch.randn(batch, cells, 7, generator=gen) * 0.3
    dir_t = torch.randint(0, 2, (batch, cells), generator=gen)
    targets = (labels, box_t, dir_t, pos)

    def step(_):
        optim.zero_grad()
        cls, box, dir_cls = model(feats, coords, g.nx, g.ny)
        detector_loss(cls, box, dir_cls, targets).backward()
        optim.step()

    timed("%s: training step, batch %d" % (name, batch), repeat, step)
    model.eval()

    def infer(i):
        with torch.no_grad():
            feats, coords = pillarise(frames[i % len(frames)], g)
            cls, box, dir_cls = model(feats, coords, g.nx, g.ny)
            scores, _ = torch.sigmoid(cls[0]).max(-1)
            keep = scores > 0.1
            scores, box = scores[keep], box[0][keep]
            if len(scores) > 4096:
                scores, idx = torch.topk(scores, 4096)
                box = box[idx]
            if len(scores) > 0:
                nms_bev(box, scores, 0.01)

    timed("%s: inference + NMS, one frame" % name, repeat, infer)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--root", help="a synthetic KITTI root (ftf synth) for the detector's points")
    ap.add_argument("--only", choices=["psmnet", "detect"], help="one network's rows")
    ap.add_argument("--size", choices=["tiny", "reference"], help="one configuration's rows")
    a = ap.parse_args()
    tiny_rows, ref_rows = a.size in (None, "tiny"), a.size in (None, "reference")
    torch.set_num_threads(a.threads)
    print("PyTorch %s on the CPU, %d threads, %d repetitions after 3 warm-up calls" %
          (torch.__version__, torch.get_num_threads(), a.repeat))
    print("| %-58s | %10s | %10s |" % ("stage", "mean ms", "min ms"))
    print("|%s|%s|%s|" % ("-" * 60, "-" * 12, "-" * 12))
    if a.only in (None, "psmnet"):
        tiny = dict(c=8, blocks=(1, 1, 1, 1), pools=(8, 4), feat=8, agg=8)
        if tiny_rows:
            psmnet_rows("PSMNet tiny", 32, tiny, (64, 128), 2, (311, 94), a.repeat)
        if ref_rows:
            psmnet_rows("PSMNet reference", 192, {}, (64, 128), 2, (1242, 375), a.repeat)
    if a.only in (None, "detect"):
        if a.root:
            ids = sorted(f[:-4] for f in os.listdir(os.path.join(a.root, "training/velodyne")))
            frames = [view_points(a.root, i) for i in ids[:4]]
        else:
            gen = torch.Generator().manual_seed(0)
            frames = [torch.rand(17000, 4, generator=gen) * torch.tensor([50, 40, 2.5, 1])
                      + torch.tensor([0, -20, -2, 0]) for _ in range(4)]
        tiny_grid = Grid((0.0, -25.6, -3.0, 51.2, 25.6, 1.0), 0.4, 16, 8000)
        tiny_net = (16, [1, 2, 2], [2, 2, 2], [16, 32, 64], [1, 2, 4], [32, 32, 32], 2, 1)
        if tiny_rows:
            pointpillars_rows("PointPillars tiny", tiny_net, tiny_grid, frames, 4, a.repeat)
        ref_grid = Grid((0.0, -39.68, -3.0, 69.12, 39.68, 1.0), 0.16, 32, 16000)
        ref_net = (64, [3, 5, 5], [2, 2, 2], [64, 128, 256], [1, 2, 4], [128, 128, 128], 2, 1)
        if ref_rows:
            pointpillars_rows("PointPillars reference 432x496", ref_net, ref_grid, frames, 4,
                              a.repeat)
        print("points a frame: %d; pillars a frame (tiny, reference): %d, %d" % (
            sum(len(f) for f in frames) // len(frames),
            sum(len(pillarise(f, tiny_grid)[0]) for f in frames) // len(frames),
            sum(len(pillarise(f, ref_grid)[0]) for f in frames) // len(frames)))


if __name__ == "__main__":
    main()
