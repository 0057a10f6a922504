#!/usr/bin/python3
"""PyTorch's side of bench/vision.js (issue 22): one run of one computer-vision workload on
--threads intra-op threads, printed as one JSON line (bench/vision.js runs it on 1 and on 2
threads and compares d2l-ts with the faster). By hand it also prints a readable line on stderr.

Workloads:

  aug0, aug2  The augmented Fashion-MNIST pipeline: torch.utils.data.DataLoader over the training
              images, num_workers 0 or 2, batch 256, shuffled, with torchvision's
              Compose([RandomHorizontalFlip(), RandomCrop(28, padding=2), ToTensor(),
              Normalize([0.286], [0.353])]) per example. --pipeline-input pil (the default) hands
              each example to the transforms as a PIL image, as torchvision.datasets.FashionMNIST
              does; --pipeline-input tensor as a uint8 [1, 28, 28] tensor (ToTensor is then
              ConvertImageDtype). examples/sec of iterating --examples examples (the loop only
              drops each batch) after --warmup such epochs; the images come from the same IDX files
              d2l-ts reads ($D2L_DATA_DIR/fashion-mnist).
  fcn         One training step of a small FCN (the design of the book's section 13.11 on a small body trained from scratch):
              three blocks of conv3x3 + BN + ReLU + max-pool 2 (32, 64, 128 channels, 8x down),
              conv1x1 to 11 classes, ConvTranspose2d(11, 11, kernel 16, stride 8, padding 4)
              (8x up); per-pixel cross entropy, SGD (lr 0.001, weight decay 1e-3, the book's);
              random [32, 3, 64, 64] images and [32, 64, 64] labels.
  ssd64, ssd256  One training step of the book's TinySSD (section 13.7, written out below: base_net
              16-32-64, down-sample blocks, the cls/bbox predictors, multibox_prior, multibox_target,
              calc_loss), one class, SGD lr 0.2, weight decay 5e-4, on random [32, 3, size, size]
              images with one random box each; the step includes multibox_target, as the book's loop.

    /usr/bin/python3 bench/vision_torch.py --workload ssd64 --threads 1 --steps 10 --warmup 2
    /usr/bin/python3 bench/vision_torch.py --workload aug2 --threads 1 --examples 60000
"""
import argparse
import json
import os
import pathlib
import resource
import sys
import time

import torch
from torch import nn
from torch.nn import functional as F

# bench/ is on sys.path (these are scripts run from there): the IDX reader and the timed loop are shared
from cnn_torch import read_idx
from torch_workloads import timed


# ------------------------------------------------------------------ the augmented pipeline

def fashion_mnist_train():
    root = pathlib.Path(os.environ.get("D2L_DATA_DIR", ""))
    folder = root / "fashion-mnist" if (root / "fashion-mnist").is_dir() else root
    if not (folder / "train-images-idx3-ubyte.gz").exists():
        raise SystemExit(f"vision_torch.py: no Fashion-MNIST in '{folder}'; set D2L_DATA_DIR to the folder holding fashion-mnist/*.gz")
    return read_idx(folder / "train-images-idx3-ubyte.gz"), read_idx(folder / "train-labels-idx1-ubyte.gz").long()


class FashionImages(torch.utils.data.Dataset):
    """The first n training images, each as torchvision.datasets.FashionMNIST gives it (a PIL image)
    or as a uint8 [1, 28, 28] tensor, through `transform`."""

    def __init__(self, images, labels, n, transform, pil):
        self.images, self.labels, self.n, self.transform, self.pil = images[:n], labels[:n], min(n, len(labels)), transform, pil
        if self.pil:
            from PIL import Image
            self.to_pil = lambda img: Image.fromarray(img.numpy(), mode="L")

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        img = self.to_pil(self.images[i]) if self.pil else self.images[i].unsqueeze(0)
        return self.transform(img), self.labels[i]


def pipeline(a, workers):
    import torchvision.transforms as T
    images, labels = fashion_mnist_train()
    pil = a.pipeline_input == "pil"
    augs = T.Compose([T.RandomHorizontalFlip(), T.RandomCrop(28, padding=2),
                      T.ToTensor() if pil else T.ConvertImageDtype(torch.float32), T.Normalize([0.286], [0.353])])
    ds = FashionImages(images, labels, a.examples, augs, pil)
    loader = torch.utils.data.DataLoader(ds, batch_size=a.batch or 256, shuffle=True, num_workers=workers)
    rates, shape = [], None
    for e in range(a.warmup + a.epochs):
        t0 = time.perf_counter()
        n = 0
        for X, y in loader:
            n += X.shape[0]
            shape = list(X.shape)
        if e >= a.warmup:
            rates.append(n / (time.perf_counter() - t0))
    rates.sort()
    return {"numWorkers": workers, "input": a.pipeline_input, "examples": len(ds), "epochs": a.epochs, "warmup": a.warmup,
            "batchShape": shape, "examplesPerSec": rates[len(rates) // 2], "best": rates[-1]}


# ------------------------------------------------------------------ FCN

def fcn(num_classes=11):
    layers, c = [], 3
    for out in (32, 64, 128):
        layers += [nn.Conv2d(c, out, kernel_size=3, padding=1), nn.BatchNorm2d(out), nn.ReLU(), nn.MaxPool2d(2)]
        c = out
    layers += [nn.Conv2d(c, num_classes, kernel_size=1),
               nn.ConvTranspose2d(num_classes, num_classes, kernel_size=16, padding=4, stride=8)]
    return nn.Sequential(*layers)


# ------------------------------------------------------------------ TinySSD, as the book writes it (section 13.7)

def cls_predictor(num_inputs, num_anchors, num_classes):
    return nn.Conv2d(num_inputs, num_anchors * (num_classes + 1), kernel_size=3, padding=1)


def bbox_predictor(num_inputs, num_anchors):
    return nn.Conv2d(num_inputs, num_anchors * 4, kernel_size=3, padding=1)


def flatten_pred(pred):
    return torch.flatten(pred.permute(0, 2, 3, 1), start_dim=1)


def concat_preds(preds):
    return torch.cat([flatten_pred(p) for p in preds], dim=1)


def down_sample_blk(in_channels, out_channels):
    blk = []
    for _ in range(2):
        blk += [nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1), nn.BatchNorm2d(out_channels), nn.ReLU()]
        in_channels = out_channels
    blk.append(nn.MaxPool2d(2))
    return nn.Sequential(*blk)


def base_net():
    blk, num_filters = [], [3, 16, 32, 64]
    for i in range(len(num_filters) - 1):
        blk.append(down_sample_blk(num_filters[i], num_filters[i + 1]))
    return nn.Sequential(*blk)


def get_blk(i):
    if i == 0:
        return base_net()
    if i == 1:
        return down_sample_blk(64, 128)
    if i == 4:
        return nn.AdaptiveMaxPool2d((1, 1))
    return down_sample_blk(128, 128)


def multibox_prior(data, sizes, ratios):
    in_height, in_width = data.shape[-2:]
    num_sizes, num_ratios = len(sizes), len(ratios)
    boxes_per_pixel = num_sizes + num_ratios - 1
    size_tensor, ratio_tensor = torch.tensor(sizes), torch.tensor(ratios)
    center_h = (torch.arange(in_height) + 0.5) / in_height
    center_w = (torch.arange(in_width) + 0.5) / in_width
    shift_y, shift_x = torch.meshgrid(center_h, center_w, indexing="ij")
    shift_y, shift_x = shift_y.reshape(-1), shift_x.reshape(-1)
    w = torch.cat((size_tensor * torch.sqrt(ratio_tensor[0]), sizes[0] * torch.sqrt(ratio_tensor[1:]))) * in_height / in_width
    h = torch.cat((size_tensor / torch.sqrt(ratio_tensor[0]), sizes[0] / torch.sqrt(ratio_tensor[1:])))
    anchor_manipulations = torch.stack((-w, -h, w, h)).T.repeat(in_height * in_width, 1) / 2
    out_grid = torch.stack([shift_x, shift_y, shift_x, shift_y], dim=1).repeat_interleave(boxes_per_pixel, dim=0)
    return (out_grid + anchor_manipulations).unsqueeze(0)


SIZES = [[0.2, 0.272], [0.37, 0.447], [0.54, 0.619], [0.71, 0.79], [0.88, 0.961]]
RATIOS = [[1, 2, 0.5]] * 5
NUM_ANCHORS = len(SIZES[0]) + len(RATIOS[0]) - 1


def blk_forward(X, blk, size, ratio, cls_pred, bbox_pred):
    Y = blk(X)
    return Y, multibox_prior(Y, sizes=size, ratios=ratio), cls_pred(Y), bbox_pred(Y)


class TinySSD(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.num_classes = num_classes
        idx_to_in_channels = [64, 128, 128, 128, 128]
        for i in range(5):
            setattr(self, f"blk_{i}", get_blk(i))
            setattr(self, f"cls_{i}", cls_predictor(idx_to_in_channels[i], NUM_ANCHORS, num_classes))
            setattr(self, f"bbox_{i}", bbox_predictor(idx_to_in_channels[i], NUM_ANCHORS))

    def forward(self, X):
        anchors, cls_preds, bbox_preds = [None] * 5, [None] * 5, [None] * 5
        for i in range(5):
            X, anchors[i], cls_preds[i], bbox_preds[i] = blk_forward(
                X, getattr(self, f"blk_{i}"), SIZES[i], RATIOS[i], getattr(self, f"cls_{i}"), getattr(self, f"bbox_{i}"))
        anchors = torch.cat(anchors, dim=1)
        cls_preds = concat_preds(cls_preds)
        cls_preds = cls_preds.reshape(cls_preds.shape[0], -1, self.num_classes + 1)
        return anchors, cls_preds, concat_preds(bbox_preds)


def box_corner_to_center(boxes):
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    return torch.stack(((x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1), dim=-1)


def box_iou(boxes1, boxes2):
    area = lambda b: (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    areas1, areas2 = area(boxes1), area(boxes2)
    inter_upperlefts = torch.max(boxes1[:, None, :2], boxes2[:, :2])
    inter_lowerrights = torch.min(boxes1[:, None, 2:], boxes2[:, 2:])
    inters = (inter_lowerrights - inter_upperlefts).clamp(min=0)
    inter_areas = inters[:, :, 0] * inters[:, :, 1]
    return inter_areas / (areas1[:, None] + areas2 - inter_areas)


def assign_anchor_to_bbox(ground_truth, anchors, iou_threshold=0.5):
    num_anchors, num_gt_boxes = anchors.shape[0], ground_truth.shape[0]
    jaccard = box_iou(anchors, ground_truth)
    anchors_bbox_map = torch.full((num_anchors,), -1, dtype=torch.long)
    max_ious, indices = torch.max(jaccard, dim=1)
    anc_i = torch.nonzero(max_ious >= iou_threshold).reshape(-1)
    anchors_bbox_map[anc_i] = indices[max_ious >= iou_threshold]
    col_discard, row_discard = torch.full((num_anchors,), -1), torch.full((num_gt_boxes,), -1)
    for _ in range(num_gt_boxes):
        max_idx = torch.argmax(jaccard)
        box_idx = (max_idx % num_gt_boxes).long()
        anc_idx = torch.div(max_idx, num_gt_boxes, rounding_mode="floor").long()
        anchors_bbox_map[anc_idx] = box_idx
        jaccard[:, box_idx] = col_discard
        jaccard[anc_idx, :] = row_discard
    return anchors_bbox_map


def offset_boxes(anchors, assigned_bb, eps=1e-6):
    c_anc, c_assigned_bb = box_corner_to_center(anchors), box_corner_to_center(assigned_bb)
    offset_xy = 10 * (c_assigned_bb[:, :2] - c_anc[:, :2]) / c_anc[:, 2:]
    offset_wh = 5 * torch.log(eps + c_assigned_bb[:, 2:] / c_anc[:, 2:])
    return torch.cat([offset_xy, offset_wh], dim=1)


def multibox_target(anchors, labels):
    batch_size, anchors = labels.shape[0], anchors.squeeze(0)
    batch_offset, batch_mask, batch_class_labels = [], [], []
    num_anchors = anchors.shape[0]
    for i in range(batch_size):
        label = labels[i, :, :]
        anchors_bbox_map = assign_anchor_to_bbox(label[:, 1:], anchors)
        bbox_mask = (anchors_bbox_map >= 0).float().unsqueeze(-1).repeat(1, 4)
        class_labels = torch.zeros(num_anchors, dtype=torch.long)
        assigned_bb = torch.zeros((num_anchors, 4), dtype=torch.float32)
        indices_true = torch.nonzero(anchors_bbox_map >= 0)
        bb_idx = anchors_bbox_map[indices_true]
        class_labels[indices_true] = label[bb_idx, 0].long() + 1
        assigned_bb[indices_true] = label[bb_idx, 1:]
        offset = offset_boxes(anchors, assigned_bb) * bbox_mask
        batch_offset.append(offset.reshape(-1))
        batch_mask.append(bbox_mask.reshape(-1))
        batch_class_labels.append(class_labels)
    return torch.stack(batch_offset), torch.stack(batch_mask), torch.stack(batch_class_labels)


cls_loss = nn.CrossEntropyLoss(reduction="none")
bbox_loss = nn.L1Loss(reduction="none")


def calc_loss(cls_preds, cls_labels, bbox_preds, bbox_labels, bbox_masks):
    batch_size, num_classes = cls_preds.shape[0], cls_preds.shape[2]
    cls = cls_loss(cls_preds.reshape(-1, num_classes), cls_labels.reshape(-1)).reshape(batch_size, -1).mean(dim=1)
    bbox = bbox_loss(bbox_preds * bbox_masks, bbox_labels * bbox_masks).mean(dim=1)
    return cls + bbox


def random_boxes(batch, gen):
    """[batch, 1, 5]: class 0 and one box (x1, y1, x2, y2) in 0..1 per image, sides 0.15-0.5 of the
    image as d2l.loadDataFashionDetection's default scale."""
    side = 0.15 + 0.35 * torch.rand(batch, 2, generator=gen)
    corner = torch.rand(batch, 2, generator=gen) * (1 - side)
    return torch.cat([torch.zeros(batch, 1), corner, corner + side], dim=1).unsqueeze(1)


def train(a, workload):
    gen = torch.Generator().manual_seed(0)
    batch = a.batch or 32
    if workload == "fcn":
        net = fcn(11)
        X = torch.rand(batch, 3, 64, 64, generator=gen)
        Y = torch.randint(0, 11, (batch, 64, 64), generator=gen)
        opt = torch.optim.SGD(net.parameters(), lr=0.001, weight_decay=1e-3)

        def step():
            opt.zero_grad()
            l = F.cross_entropy(net(X), Y)
            l.backward()
            opt.step()
            return l
        size = 64
    else:
        size = 64 if workload == "ssd64" else 256
        net = TinySSD(num_classes=1)
        X = torch.rand(batch, 3, size, size, generator=gen) * 255
        Y = random_boxes(batch, gen)
        opt = torch.optim.SGD(net.parameters(), lr=0.2, weight_decay=5e-4)

        def step():
            opt.zero_grad()
            anchors, cls_preds, bbox_preds = net(X)
            bbox_labels, bbox_masks, cls_labels = multibox_target(anchors, Y)
            l = calc_loss(cls_preds, cls_labels, bbox_preds, bbox_labels, bbox_masks).mean()
            l.backward()
            opt.step()
            return l
    net.train()
    warm, done, seconds, loss = timed(step, a.steps, a.warmup, a.max_seconds)
    return {"size": size, "batch": batch, "params": sum(p.numel() for p in net.parameters()), "warmup": warm, "steps": done,
            "seconds": seconds, "examplesPerSec": done * batch / seconds, "loss": loss}


WORKLOADS = ["aug0", "aug2", "fcn", "ssd64", "ssd256"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--workload", required=True, choices=WORKLOADS)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--batch", type=int, default=0, help="default: 256 for aug0/aug2, 32 for the training steps")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=None, help="warm-up steps (default 3) or epochs of the pipeline (default 1)")
    p.add_argument("--max-seconds", type=float, default=60)
    p.add_argument("--examples", type=int, default=60000, help="pipeline: examples per epoch (the first N training images)")
    p.add_argument("--epochs", type=int, default=1, help="pipeline: timed epochs (the median is reported)")
    p.add_argument("--pipeline-input", choices=["pil", "tensor"], default="pil")
    a = p.parse_args()
    for name in ("threads", "steps", "examples", "epochs"):
        if getattr(a, name) < 1:
            p.error(f"--{name} must be a positive integer, got {getattr(a, name)}")
    if a.batch < 0 or (a.warmup is not None and a.warmup < 0) or a.max_seconds <= 0:
        p.error("--batch and --warmup must be whole numbers and --max-seconds positive")
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.workload in ("aug0", "aug2"):
        a.warmup = 1 if a.warmup is None else a.warmup
        out = pipeline(a, 0 if a.workload == "aug0" else 2)
    else:
        a.warmup = 3 if a.warmup is None else a.warmup
        out = train(a, a.workload)
    out.update({"framework": "pytorch", "backend": "pytorch", "workload": a.workload, "threads": torch.get_num_threads(),
                "torchVersion": torch.__version__, "load": [round(v, 2) for v in os.getloadavg()],
                "maxRssMiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})
    print(f"{a.workload}, PyTorch {torch.__version__} on {a.threads} thread(s): {out['examplesPerSec']:.1f} examples/sec", file=sys.stderr)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
