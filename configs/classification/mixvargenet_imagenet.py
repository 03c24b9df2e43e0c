import os

import torch
from horizon_plugin_pytorch.march import March

import hat
from hat.models.backbones.mixvargenet import MixVarGENetConfig
from hat.utils.config import ConfigVersion

VERSION = ConfigVersion.v2
training_step = os.environ.get("HAT_TRAINING_STEP", "float")
task_name = "mixvargenet_imagenet"
num_classes = 1000
batch_size_per_gpu = 128
device_ids = [0, 1, 2, 3]
ckpt_dir = "./tmp_models/%s" % task_name
cudnn_benchmark = True
seed = None
log_rank_zero_only = True
bn_kwargs = {}
march = March.NASH_E
data_rootdir = "./tmp_data/imagenet"

# The network of Horizon's MixVarGENet model card (ImageNet, 224x224): five
# stages at strides 2, 4, 8, 16 and 32 (HAT's GaNet and StereoNet+ configs
# use the same net_config without the top).
net_config = [
    [
        MixVarGENetConfig(
            in_channels=32,
            out_channels=32,
            head_op="mixvarge_f2",
            stack_ops=[],
            stride=1,
            stack_factor=1,
            fusion_strides=[],
            extra_downsample_num=0,
        ),
    ],  # stride 2
    [
        MixVarGENetConfig(
            in_channels=32,
            out_channels=32,
            head_op="mixvarge_f4",
            stack_ops=["mixvarge_f4", "mixvarge_f4"],
            stride=2,
            stack_factor=1,
            fusion_strides=[],
            extra_downsample_num=0,
        ),
    ],  # stride 4
    [
        MixVarGENetConfig(
            in_channels=32,
            out_channels=64,
            head_op="mixvarge_f4",
            stack_ops=["mixvarge_f4", "mixvarge_f4"],
            stride=2,
            stack_factor=1,
            fusion_strides=[],
            extra_downsample_num=0,
        ),
    ],  # stride 8
    [
        MixVarGENetConfig(
            in_channels=64,
            out_channels=96,
            head_op="mixvarge_f2_gb16",
            stack_ops=["mixvarge_f2_gb16"] * 6,
            stride=2,
            stack_factor=1,
            fusion_strides=[],
            extra_downsample_num=0,
        ),
    ],  # stride 16
    [
        MixVarGENetConfig(
            in_channels=96,
            out_channels=160,
            head_op="mixvarge_f2_gb16",
            stack_ops=["mixvarge_f2_gb16", "mixvarge_f2_gb16"],
            stride=2,
            stack_factor=1,
            fusion_strides=[],
            extra_downsample_num=0,
        ),
    ],  # stride 32
]

model = dict(
    type="Classifier",
    backbone=dict(
        type="MixVarGENet",
        net_config=net_config,
        disable_quanti_input=False,
        fc_filter=1024,
        num_classes=num_classes,
        bn_kwargs=bn_kwargs,
        include_top=True,
        flat_output=True,
        bias=False,
    ),
    losses=dict(type="CEWithLabelSmooth", smooth_alpha=0.1),
)
deploy_model = dict(
    type="Classifier",
    backbone=dict(
        type="MixVarGENet",
        net_config=net_config,
        disable_quanti_input=False,
        fc_filter=1024,
        num_classes=num_classes,
        bn_kwargs=bn_kwargs,
        include_top=True,
        flat_output=True,
        bias=False,
    ),
)
deploy_inputs = dict(img=torch.randn((1, 3, 224, 224)))

data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(
        type="ImageNetFromLMDB",
        data_path=os.path.join(data_rootdir, "train_lmdb"),
        transforms=[
            dict(type="RandomResizedCrop", size=224),
            dict(type="RandomFlip", px=0.5),
            dict(type="ToTensor", to_yuv=True),
            dict(type="Normalize", mean=128.0, std=128.0),
        ],
    ),
    sampler=dict(type=torch.utils.data.DistributedSampler),
    batch_size=batch_size_per_gpu,
    shuffle=True,
    num_workers=8,
    pin_memory=True,
    collate_fn=hat.data.collates.collate_2d,
)
val_data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(
        type="ImageNetFromLMDB",
        data_path=os.path.join(data_rootdir, "val_lmdb"),
        transforms=[
            dict(type="Resize", img_scale=(256, 256), keep_ratio=False),
            dict(type="RandomCrop", size=(224, 224)),
            dict(type="ToTensor", to_yuv=True),
            dict(type="Normalize", mean=128.0, std=128.0),
        ],
    ),
    sampler=dict(type=torch.utils.data.DistributedSampler),
    batch_size=batch_size_per_gpu,
    shuffle=False,
    num_workers=8,
    pin_memory=True,
    collate_fn=hat.data.collates.collate_2d,
)

compile_cfg = dict(
    march=march,
    name=task_name,
    out_dir=os.path.join(ckpt_dir, "compile"),
    hbm=os.path.join(ckpt_dir, "compile", "model.hbm"),
    layer_details=True,
    input_source=["ddr"],
    opt="O3",
)
