#!/usr/bin/env python3
"""Reference fixtures for `ftf`'s PyTorch import tests (issue: the reference models' own weights).

Builds the reference networks as their official code does -- PSMNet's stacked hourglass
(JiaRenChang/PSMNet, models/submodule.py + models/stackhourglass.py) and OpenPCDet's
PointPillars parts (PillarVFE's PFNLayer, PointPillarScatter, BaseBEVBackbone,
AnchorHeadSingle's 1x1 heads) -- at reduced widths, with seeded random weights and random
batch-norm statistics, and writes for each:

  * the checkpoint in both PyTorch formats, laid out as the released files are:
    PSMNet  {'epoch', 'train_loss', 'state_dict': {'module.<name>': ...}}  (DataParallel),
    OpenPCDet {'epoch', 'it', 'version', 'model_state': {...}, 'optimizer_state': {...}};
    `<name>.pth` is the zip format (PyTorch >= 1.6), `<name>.tar` the legacy pickle format;
  * a fixed input and the reference's output in eval mode, as .npy (float32);
  * `<net>-full-shapes.json`: every tensor name and shape of the full-width network (the
    paper's PSMNet, OpenPCDet's KITTI pointpillar.yaml), without weights.

Only the module structure and parameter names matter for the import; the code below is the
official code with its hard-coded widths made parameters (names unchanged).

    python3 data-scripts/reference-fixtures.py          # writes the committed fixtures
    python3 data-scripts/reference-fixtures.py --full-psmnet /tmp/psmnet-full.tar
                                                        # a full-width random PSMNet checkpoint
                                                        # (legacy format), for timing the import

Needs torch and numpy (`pip install torch numpy`); never run by CI. Deterministic: the same
torch version writes the same numbers.
"""
import argparse
import copy
import json
import math
import os

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PSMNET_DIR = os.path.join(ROOT, "crates/disparity/tests/fixtures/psmnet-reference")
PILLARS_DIR = os.path.join(ROOT, "crates/detector/tests/fixtures/pointpillars-reference")


# --- PSMNet (models/submodule.py, models/stackhourglass.py) --------------------------------

def convbn(in_planes, out_planes, kernel_size, stride, pad, dilation):
    return nn.Sequential(nn.Conv2d(in_planes, out_planes, kernel_size=kernel_size, stride=stride,
                                   padding=dilation if dilation > 1 else pad, dilation=dilation,
                                   bias=False),
                         nn.BatchNorm2d(out_planes))


def convbn_3d(in_planes, out_planes, kernel_size, stride, pad):
    return nn.Sequential(nn.Conv3d(in_planes, out_planes, kernel_size=kernel_size, padding=pad,
                                   stride=stride, bias=False),
                         nn.BatchNorm3d(out_planes))


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride, downsample, pad, dilation):
        super().__init__()
        self.conv1 = nn.Sequential(convbn(inplanes, planes, 3, stride, pad, dilation),
                                   nn.ReLU(inplace=True))
        self.conv2 = convbn(planes, planes, 3, 1, pad, dilation)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        out = self.conv1(x)
        out = self.conv2(out)
        if self.downsample is not None:
            x = self.downsample(x)
        out += x
        return out


class feature_extraction(nn.Module):
    # Official: c = 32, blocks = (3, 16, 3, 3), pools = (64, 32, 16, 8), out = 32.
    def __init__(self, c, blocks, pools, out):
        super().__init__()
        self.inplanes = c
        self.firstconv = nn.Sequential(convbn(3, c, 3, 2, 1, 1), nn.ReLU(inplace=True),
                                       convbn(c, c, 3, 1, 1, 1), nn.ReLU(inplace=True),
                                       convbn(c, c, 3, 1, 1, 1), nn.ReLU(inplace=True))
        self.layer1 = self._make_layer(BasicBlock, c, blocks[0], 1, 1, 1)
        self.layer2 = self._make_layer(BasicBlock, 2 * c, blocks[1], 2, 1, 1)
        self.layer3 = self._make_layer(BasicBlock, 4 * c, blocks[2], 1, 1, 1)
        self.layer4 = self._make_layer(BasicBlock, 4 * c, blocks[3], 1, 1, 2)
        for i, p in enumerate(pools):
            setattr(self, "branch%d" % (i + 1),
                    nn.Sequential(nn.AvgPool2d((p, p), stride=(p, p)),
                                  convbn(4 * c, c, 1, 1, 0, 1), nn.ReLU(inplace=True)))
        self.branches = len(pools)
        self.lastconv = nn.Sequential(convbn(6 * c + c * len(pools), 4 * c, 3, 1, 1, 1),
                                      nn.ReLU(inplace=True),
                                      nn.Conv2d(4 * c, out, kernel_size=1, padding=0, stride=1,
                                                bias=False))

    def _make_layer(self, block, planes, blocks, stride, pad, dilation):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, kernel_size=1, stride=stride,
                          bias=False),
                nn.BatchNorm2d(planes * block.expansion),)
        layers = [block(self.inplanes, planes, stride, downsample, pad, dilation)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes, 1, None, pad, dilation))
        return nn.Sequential(*layers)

    def forward(self, x):
        output = self.firstconv(x)
        output = self.layer1(output)
        output_raw = self.layer2(output)
        output = self.layer3(output_raw)
        output_skip = self.layer4(output)
        size = (output_skip.size()[2], output_skip.size()[3])
        branches = []
        for i in range(self.branches, 0, -1):  # branch4, branch3, ... as the official cat
            b = getattr(self, "branch%d" % i)(output_skip)
            branches.append(F.interpolate(b, size, mode="bilinear", align_corners=False))
        output_feature = torch.cat([output_raw, output_skip] + branches, 1)
        return self.lastconv(output_feature)


class hourglass(nn.Module):
    def __init__(self, inplanes):
        super().__init__()
        self.conv1 = nn.Sequential(convbn_3d(inplanes, inplanes * 2, 3, 2, 1), nn.ReLU(inplace=True))
        self.conv2 = convbn_3d(inplanes * 2, inplanes * 2, 3, 1, 1)
        self.conv3 = nn.Sequential(convbn_3d(inplanes * 2, inplanes * 2, 3, 2, 1),
                                   nn.ReLU(inplace=True))
        self.conv4 = nn.Sequential(convbn_3d(inplanes * 2, inplanes * 2, 3, 1, 1),
                                   nn.ReLU(inplace=True))
        self.conv5 = nn.Sequential(nn.ConvTranspose3d(inplanes * 2, inplanes * 2, kernel_size=3,
                                                      padding=1, output_padding=1, stride=2,
                                                      bias=False),
                                   nn.BatchNorm3d(inplanes * 2))
        self.conv6 = nn.Sequential(nn.ConvTranspose3d(inplanes * 2, inplanes, kernel_size=3,
                                                      padding=1, output_padding=1, stride=2,
                                                      bias=False),
                                   nn.BatchNorm3d(inplanes))

    def forward(self, x, presqu, postsqu):
        out = self.conv1(x)
        pre = self.conv2(out)
        if postsqu is not None:
            pre = F.relu(pre + postsqu, inplace=True)
        else:
            pre = F.relu(pre, inplace=True)
        out = self.conv3(pre)
        out = self.conv4(out)
        if presqu is not None:
            post = F.relu(self.conv5(out) + presqu, inplace=True)
        else:
            post = F.relu(self.conv5(out) + pre, inplace=True)
        out = self.conv6(post)
        return out, pre, post


class PSMNet(nn.Module):
    def __init__(self, maxdisp, c=32, blocks=(3, 16, 3, 3), pools=(64, 32, 16, 8), feat=32,
                 agg=32):
        super().__init__()
        self.maxdisp = maxdisp
        self.feature_extraction = feature_extraction(c, blocks, pools, feat)
        self.dres0 = nn.Sequential(convbn_3d(2 * feat, agg, 3, 1, 1), nn.ReLU(inplace=True),
                                   convbn_3d(agg, agg, 3, 1, 1), nn.ReLU(inplace=True))
        self.dres1 = nn.Sequential(convbn_3d(agg, agg, 3, 1, 1), nn.ReLU(inplace=True),
                                   convbn_3d(agg, agg, 3, 1, 1))
        self.dres2 = hourglass(agg)
        self.dres3 = hourglass(agg)
        self.dres4 = hourglass(agg)
        for i in (1, 2, 3):
            setattr(self, "classif%d" % i,
                    nn.Sequential(convbn_3d(agg, agg, 3, 1, 1), nn.ReLU(inplace=True),
                                  nn.Conv3d(agg, 1, kernel_size=3, padding=1, stride=1,
                                            bias=False)))
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2. / n))
            elif isinstance(m, nn.Conv3d):
                n = m.kernel_size[0] * m.kernel_size[1] * m.kernel_size[2] * m.out_channels
                m.weight.data.normal_(0, math.sqrt(2. / n))

    def costs(self, left, right):
        """The three outputs' matching costs at 1/4 resolution (classif1-3, accumulated)."""
        refimg_fea = self.feature_extraction(left)
        targetimg_fea = self.feature_extraction(right)
        b, c, h, w = refimg_fea.size()
        cost = torch.zeros(b, 2 * c, self.maxdisp // 4, h, w)
        for i in range(self.maxdisp // 4):
            if i > 0:
                cost[:, :c, i, :, i:] = refimg_fea[:, :, :, i:]
                cost[:, c:, i, :, i:] = targetimg_fea[:, :, :, :-i]
            else:
                cost[:, :c, i, :, :] = refimg_fea
                cost[:, c:, i, :, :] = targetimg_fea
        cost = cost.contiguous()
        cost0 = self.dres0(cost)
        cost0 = self.dres1(cost0) + cost0
        out1, pre1, post1 = self.dres2(cost0, None, None)
        out1 = out1 + cost0
        out2, pre2, post2 = self.dres3(out1, pre1, post1)
        out2 = out2 + cost0
        out3, pre3, post3 = self.dres4(out2, pre1, post2)
        out3 = out3 + cost0
        cost1 = self.classif1(out1)
        cost2 = self.classif2(out2) + cost1
        cost3 = self.classif3(out3) + cost2
        return cost1, cost2, cost3

    def forward(self, left, right):
        cost3 = self.costs(left, right)[2]
        cost3 = F.interpolate(cost3, [self.maxdisp, left.size()[2], left.size()[3]],
                              mode="trilinear", align_corners=False)
        cost3 = torch.squeeze(cost3, 1)
        pred3 = F.softmax(cost3, dim=1)
        disp = torch.arange(self.maxdisp, dtype=pred3.dtype).reshape(1, self.maxdisp, 1, 1)
        return torch.sum(pred3 * disp, 1)


# --- OpenPCDet PointPillars (pillar_vfe.py, pointpillar_scatter.py, base_bev_backbone.py,
#     anchor_head_single.py) -----------------------------------------------------------------

class PFNLayer(nn.Module):
    def __init__(self, in_channels, out_channels, use_norm=True, last_layer=False):
        super().__init__()
        self.last_vfe = last_layer
        if not self.last_vfe:
            out_channels = out_channels // 2
        self.linear = nn.Linear(in_channels, out_channels, bias=False)
        self.norm = nn.BatchNorm1d(out_channels, eps=1e-3, momentum=0.01)

    def forward(self, inputs):
        x = self.linear(inputs)
        x = self.norm(x.permute(0, 2, 1)).permute(0, 2, 1)
        x = F.relu(x)
        return torch.max(x, dim=1, keepdim=True)[0]


class PillarVFE(nn.Module):
    def __init__(self, num_filters):
        super().__init__()
        self.pfn_layers = nn.ModuleList([PFNLayer(10, num_filters[0], last_layer=True)])

    def forward(self, features):  # features: the 10 decorated point features, padded with 0
        for pfn in self.pfn_layers:
            features = pfn(features)
        return features.squeeze()


def scatter(pillar_features, coords, channels, nx, ny):
    batch_size = int(coords[:, 0].max().item()) + 1
    out = []
    for b in range(batch_size):
        spatial = torch.zeros(channels, nx * ny, dtype=pillar_features.dtype)
        mask = coords[:, 0] == b
        c = coords[mask, :]
        indices = (c[:, 1] + c[:, 2] * nx + c[:, 3]).long()
        spatial[:, indices] = pillar_features[mask, :].t()
        out.append(spatial)
    return torch.stack(out, 0).view(batch_size, channels, ny, nx)


class BaseBEVBackbone(nn.Module):
    def __init__(self, input_channels, layer_nums, layer_strides, num_filters, upsample_strides,
                 num_upsample_filters):
        super().__init__()
        c_in_list = [input_channels, *num_filters[:-1]]
        self.blocks = nn.ModuleList()
        self.deblocks = nn.ModuleList()
        for idx in range(len(layer_nums)):
            cur_layers = [
                nn.ZeroPad2d(1),
                nn.Conv2d(c_in_list[idx], num_filters[idx], kernel_size=3,
                          stride=layer_strides[idx], padding=0, bias=False),
                nn.BatchNorm2d(num_filters[idx], eps=1e-3, momentum=0.01),
                nn.ReLU()]
            for _ in range(layer_nums[idx]):
                cur_layers.extend([
                    nn.Conv2d(num_filters[idx], num_filters[idx], kernel_size=3, padding=1,
                              bias=False),
                    nn.BatchNorm2d(num_filters[idx], eps=1e-3, momentum=0.01),
                    nn.ReLU()])
            self.blocks.append(nn.Sequential(*cur_layers))
            stride = upsample_strides[idx]
            self.deblocks.append(nn.Sequential(
                nn.ConvTranspose2d(num_filters[idx], num_upsample_filters[idx], stride,
                                   stride=stride, bias=False),
                nn.BatchNorm2d(num_upsample_filters[idx], eps=1e-3, momentum=0.01),
                nn.ReLU()))

    def forward(self, x):
        ups = []
        for i in range(len(self.blocks)):
            x = self.blocks[i](x)
            ups.append(self.deblocks[i](x))
        return torch.cat(ups, dim=1)


class AnchorHeadSingle(nn.Module):
    def __init__(self, input_channels, anchors_per_location, num_class):
        super().__init__()
        self.conv_cls = nn.Conv2d(input_channels, anchors_per_location * num_class, kernel_size=1)
        self.conv_box = nn.Conv2d(input_channels, anchors_per_location * 7, kernel_size=1)
        self.conv_dir_cls = nn.Conv2d(input_channels, anchors_per_location * 2, kernel_size=1)

    def forward(self, x):
        return [conv(x).permute(0, 2, 3, 1).contiguous()
                for conv in (self.conv_cls, self.conv_box, self.conv_dir_cls)]


class PointPillar(nn.Module):
    """Detector3DTemplate's module names (vfe, map_to_bev_module, backbone_2d, dense_head)
    and its `global_step` buffer."""

    def __init__(self, pillar_channels, layer_nums, layer_strides, filters, up_strides,
                 up_filters, anchors_per_location, num_class):
        super().__init__()
        self.register_buffer("global_step", torch.LongTensor(1).zero_())
        self.vfe = PillarVFE([pillar_channels])
        self.backbone_2d = BaseBEVBackbone(pillar_channels, layer_nums, layer_strides, filters,
                                           up_strides, up_filters)
        self.dense_head = AnchorHeadSingle(sum(up_filters), anchors_per_location, num_class)
        self.num_class = num_class
        self.pillar_channels = pillar_channels

    def forward(self, features, coords, nx, ny):
        spatial = scatter(self.vfe(features), coords, self.pillar_channels, nx, ny)
        cls, box, dir_cls = self.dense_head(self.backbone_2d(spatial))
        b = cls.shape[0]
        return cls.view(b, -1, self.num_class), box.view(b, -1, 7), dir_cls.view(b, -1, 2)


# --- Writing ---------------------------------------------------------------------------------

def randomise_batch_norm(model, gen):
    """Random affine parameters and running statistics, so that a statistic the import drops or
    swaps changes the output."""
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
            n = m.num_features
            m.weight.data = torch.rand(n, generator=gen) + 0.5
            m.bias.data = torch.randn(n, generator=gen) * 0.1
            m.running_mean.data = torch.randn(n, generator=gen) * 0.1
            m.running_var.data = torch.rand(n, generator=gen) * 1.5 + 0.5
            m.num_batches_tracked.data = torch.tensor(1000)


def save_both(obj, folder, name):
    zip_path = os.path.join(folder, name + ".pth")
    legacy_path = os.path.join(folder, name + ".tar")
    torch.save(obj, zip_path)
    torch.save(obj, legacy_path, _use_new_zipfile_serialization=False)
    return [zip_path, legacy_path]


def shapes(state):
    return {k: list(v.shape) for k, v in state.items()}


def psmnet_checkpoint(model):
    state = {"module." + k: v for k, v in model.state_dict().items()}
    return {"epoch": 300, "train_loss": 0.5, "state_dict": state}


def write_psmnet():
    os.makedirs(PSMNET_DIR, exist_ok=True)
    torch.manual_seed(7)
    gen = torch.Generator().manual_seed(8)
    # configs: max_disparity 32, width 4, blocks [1, 2, 1, 1], pools [8, 4, 2, 1], features 4,
    # aggregation 2 (the test builds the same PsmNetConfig).
    model = PSMNet(32, c=4, blocks=(1, 2, 1, 1), pools=(8, 4, 2, 1), feat=4, agg=2)
    randomise_batch_norm(model, gen)
    model.eval()
    left = torch.rand(1, 3, 32, 64, generator=gen) * 2 - 1
    # The right image is the left shifted by 3 px, with noise: a plausible stereo pair.
    right = torch.roll(left, -3, dims=3) + 0.05 * torch.randn(1, 3, 32, 64, generator=gen)
    with torch.no_grad():
        disparity = model(left, right)
    files = save_both(psmnet_checkpoint(model), PSMNET_DIR, "psmnet")
    np.save(os.path.join(PSMNET_DIR, "left.npy"), left.numpy().astype(np.float32))
    np.save(os.path.join(PSMNET_DIR, "right.npy"), right.numpy().astype(np.float32))
    np.save(os.path.join(PSMNET_DIR, "disparity.npy"), disparity.numpy().astype(np.float32))
    full = PSMNet(192)
    with open(os.path.join(PSMNET_DIR, "psmnet-full-shapes.json"), "w") as f:
        json.dump(shapes(full.state_dict()), f, indent=0, sort_keys=True)
    return files


def openpcdet_checkpoint(model):
    # One step so that the optimiser state holds tensors too, as a real checkpoint's does (of
    # the head only, to keep the fixture small), taken on a copy: the weights saved are the
    # ones the outputs were computed with.
    head = copy.deepcopy(model.dense_head)
    optim = torch.optim.Adam(head.parameters(), lr=0.003)
    for p in head.parameters():
        p.grad = torch.ones_like(p) * 1e-3
    optim.step()
    return {"epoch": 80, "it": 37120, "version": "pcdet+0.3.0",
            "model_state": model.state_dict(), "optimizer_state": optim.state_dict()}


def write_pointpillars():
    os.makedirs(PILLARS_DIR, exist_ok=True)
    torch.manual_seed(11)
    gen = torch.Generator().manual_seed(12)
    # configs: pillar_channels 8, layer_nums [1, 2, 1], strides [2, 2, 2], filters [8, 8, 16],
    # upsample strides [1, 2, 4], upsample filters [8, 8, 8]; three classes with two rotations
    # each (6 anchors a cell); a 16 x 16 grid (fixtures README).
    model = PointPillar(8, [1, 2, 1], [2, 2, 2], [8, 8, 16], [1, 2, 4], [8, 8, 8], 6, 3)
    randomise_batch_norm(model, gen)
    with torch.no_grad():
        for conv in (model.dense_head.conv_cls, model.dense_head.conv_box,
                     model.dense_head.conv_dir_cls):
            conv.bias.data = torch.randn(conv.bias.shape, generator=gen) * 0.1
    model.eval()
    nx = ny = 16
    pillars, points = 40, 6
    features = torch.randn(pillars, points, 10, generator=gen)
    counts = torch.randint(1, points + 1, (pillars,), generator=gen)
    for i in range(pillars):  # padded points are zeros, as PillarVFE's mask leaves them
        features[i, counts[i]:, :] = 0
    coords = []
    for b, n in ((0, 24), (1, 16)):
        cells = torch.randperm(nx * ny, generator=gen)[:n]
        coords += [[b, 0, int(c) // nx, int(c) % nx] for c in cells]
    coords = torch.tensor(coords, dtype=torch.int32)
    with torch.no_grad():
        cls, box, dir_cls = model(features, coords, nx, ny)
    files = save_both(openpcdet_checkpoint(model), PILLARS_DIR, "pointpillars")
    for name, value in (("features", features), ("cls_preds", cls), ("box_preds", box),
                        ("dir_cls_preds", dir_cls)):
        np.save(os.path.join(PILLARS_DIR, name + ".npy"), value.numpy().astype(np.float32))
    np.save(os.path.join(PILLARS_DIR, "coords.npy"), coords.numpy().astype(np.int32))
    # OpenPCDet tools/cfgs/kitti_models/pointpillar.yaml: 64 pillar channels, LAYER_NUMS
    # [3, 5, 5], strides [2, 2, 2], filters [64, 128, 256], upsample [1, 2, 4] x 128; 3 classes
    # x 2 rotations.
    full = PointPillar(64, [3, 5, 5], [2, 2, 2], [64, 128, 256], [1, 2, 4], [128, 128, 128], 6, 3)
    with open(os.path.join(PILLARS_DIR, "pointpillars-full-shapes.json"), "w") as f:
        json.dump(shapes(full.state_dict()), f, indent=0, sort_keys=True)
    return files


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--full-psmnet", metavar="FILE",
                        help="also write a full-width random PSMNet checkpoint (legacy format)")
    args = parser.parse_args()
    written = write_psmnet() + write_pointpillars()
    if args.full_psmnet:
        torch.manual_seed(1)
        model = PSMNet(192)
        torch.save(psmnet_checkpoint(model), args.full_psmnet,
                   _use_new_zipfile_serialization=False)
        written.append(args.full_psmnet)
    for path in written:
        print("%8d B  %s" % (os.path.getsize(path), os.path.relpath(path, ROOT)))


if __name__ == "__main__":
    main()
