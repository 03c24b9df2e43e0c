# The model part of HAT's GaNet-MixVarGENet CuLane config (full size,
# 320x800 input): MixVarGENet stages at strides 8/16/32, GaNetNeck with one
# position-attention layer on the stride-32 map and an FPN, GaNetHead.
import copy

import torch

from hat.models.backbones.mixvargenet import MixVarGENetConfig

bn_kwargs = {}
radius = 2
hid_dim = 32
attn_ratio = 4


def stage(cin, cout, op, stack, stride):
    return [
        MixVarGENetConfig(
            in_channels=cin,
            out_channels=cout,
            head_op=op,
            stack_ops=[op] * stack,
            stride=stride,
            stack_factor=1,
            fusion_strides=[],
            extra_downsample_num=0,
        )
    ]


model = dict(
    type="GaNet",
    backbone=dict(
        type="MixVarGENet",
        net_config=[
            stage(32, 32, "mixvarge_f2", 0, 1),
            stage(32, 32, "mixvarge_f4", 2, 2),
            stage(32, 64, "mixvarge_f4", 2, 2),
            stage(64, 96, "mixvarge_f2_gb16", 6, 2),
            stage(96, 160, "mixvarge_f2_gb16", 2, 2),
        ],
        disable_quanti_input=False,
        input_channels=3,
        input_sequence_length=1,
        num_classes=1000,
        bn_kwargs=bn_kwargs,
        include_top=False,
        bias=True,
        output_list=[2, 3, 4],
    ),
    neck=dict(
        type="GaNetNeck",
        fpn_module=dict(
            type="FPN",
            in_strides=[8, 16, 32],
            in_channels=[64, 96, hid_dim],
            out_strides=[8, 16, 32],
            out_channels=[hid_dim, hid_dim, hid_dim],
        ),
        attn_in_channels=[160],
        attn_out_channels=[hid_dim],
        attn_ratios=[attn_ratio],
        pos_shape=(1, 10, 25),
    ),
    head=dict(
        type="GaNetHead",
        in_channel=hid_dim,
    ),
    targets=dict(
        type="GaNetTarget",
        hm_down_scale=8,
        radius=radius,
    ),
    post_process=dict(
        type="GaNetDecoder",
        root_thr=1,
        kpt_thr=0.4,
        cluster_thr=5,
        downscale=8,
    ),
    losses=dict(
        type="GaNetLoss",
        loss_kpts_cls=dict(type="LaneFastFocalLoss", loss_weight=1.0),
        loss_pts_offset_reg=dict(type="L1Loss", loss_weight=0.5),
        loss_int_offset_reg=dict(type="L1Loss", loss_weight=1.0),
    ),
)

deploy_model = copy.deepcopy(model)
deploy_model["targets"] = None
deploy_model["losses"] = None
deploy_model["post_process"] = None

deploy_inputs = dict(img=torch.randn((1, 3, 320, 800)))
