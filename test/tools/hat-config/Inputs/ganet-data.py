# The data side of HAT's GaNet / CuLane config (train and val transforms,
# batch processors with batch_transforms), scaled to synthesized 820x295
# CuLane images: the tutorial's FixedCrop (0, 270, 1640, 320) and 320x800
# resize become (0, 135, 820, 160) and 160x400.
import copy
import os

import torch

from hat.data.collates.collates import collate_2d

data_path = os.environ.get("HAT_TEST_DATA", "./tmp_data/culane") + "/train_lmdb"

train_transforms = [
    dict(type="FixedCrop", size=(0, 135, 820, 160)),
    dict(type="RandomFlip", px=0.5, py=0.0),
    dict(type="Resize", img_scale=(160, 400), multiscale_mode="value",
         keep_ratio=False),
    dict(
        type="RandomSelectOne",
        transforms=[
            dict(type="RGBShift", r_shift_limit=(-10, 10),
                 g_shift_limit=(-10, 10), b_shift_limit=(-10, 10), p=1.0),
            dict(type="HueSaturationValue", hue_range=(-10, 10),
                 sat_range=(-15, 15), val_range=(-10, 10), p=1.0),
        ],
        p=0.7,
    ),
    dict(type="JPEGCompress", p=0.2, max_quality=85, min_quality=95),
    dict(
        type="RandomSelectOne",
        transforms=[
            dict(type="MeanBlur", ksize=3, p=1.0),
            dict(type="MedianBlur", ksize=3, p=1.0),
        ],
        p=0.2,
    ),
    dict(type="RandomBrightnessContrast", brightness_limit=(-0.2, 0.2),
         contrast_limit=(-0.0, 0.0), p=0.5),
    dict(type="ShiftScaleRotate", shift_limit=(-0.1, 0.1),
         scale_limit=(0.8, 1.2), rotate_limit=(-10, 10), interpolation=1,
         border_mode=0, p=0.6),
    dict(type="RandomResizedCrop", height=160, width=400, scale=(0.8, 1.2),
         ratio=(1.7, 2.7), p=0.6),
    dict(type="ToTensor", to_yuv=False),
]

data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(
        type="CuLaneDataset",
        data_path=data_path,
        to_rgb=True,
        transforms=train_transforms,
    ),
    batch_size=2,
    shuffle=True,
    num_workers=0,
    collate_fn=collate_2d,
)

val_data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(
        type="CuLaneDataset",
        data_path=data_path,
        to_rgb=True,
        transforms=[
            dict(type="FixedCrop", size=(0, 135, 820, 160)),
            dict(type="Resize", img_scale=(160, 400), multiscale_mode="value",
                 keep_ratio=False),
            dict(type="ToTensor", to_yuv=False),
        ],
    ),
    batch_size=3,
    shuffle=False,
    num_workers=0,
    collate_fn=collate_2d,
)


def loss_collector(outputs: dict):
    losses = []
    for _, loss in outputs.items():
        losses.append(loss)
    return losses


train_batch_processor = dict(
    type="BasicBatchProcessor",
    need_grad_update=True,
    loss_collector=loss_collector,
    batch_transforms=[
        dict(type="BgrToYuv444", rgb_input=True),
        dict(type="TorchVisionAdapter", interface="Normalize", mean=128.0,
             std=128.0),
    ],
)

# The tutorial's full-size crop does not fit 820x295 images.
full_size_loader = copy.deepcopy(val_data_loader)
full_size_loader["dataset"]["transforms"][0]["size"] = (0, 270, 1640, 320)

# A BGR dataset with rgb_input=True would convert the wrong channels.
bgr_loader = copy.deepcopy(val_data_loader)
bgr_loader["dataset"]["to_rgb"] = False

# Geometric transforms cannot run on a collated batch.
flip_batch_processor = dict(
    type="BasicBatchProcessor",
    need_grad_update=False,
    batch_transforms=[dict(type="RandomFlip", px=0.5)],
)

# HAT's CuLaneDataset gives RGB unless told otherwise; CuLaneFromLMDB BGR.
default_loader = copy.deepcopy(val_data_loader)
default_loader["dataset"].pop("to_rgb")
lmdb_loader = copy.deepcopy(default_loader)
lmdb_loader["dataset"]["type"] = "CuLaneFromLMDB"
