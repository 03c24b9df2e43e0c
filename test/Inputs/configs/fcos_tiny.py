# A small FCOS for the pipeline tests: the seed's structure (EfficientNet-B0
# features, BiFPN with weighted-sum fusion, shared FCOSHead with int16
# outputs) with narrow neck/head, 3 classes and a 64x64 input.
import torch

model = dict(
    type="FCOS",
    backbone=dict(
        type="efficientnet",
        model_type="b0",
        num_classes=1000,
        include_top=False,
        activation="relu",
        use_se_block=False,
    ),
    neck=dict(
        type="BiFPN",
        in_strides=[2, 4, 8, 16, 32],
        out_strides=[8, 16, 32, 64, 128],
        stride2channels=dict({2: 16, 4: 24, 8: 40, 16: 112, 32: 320}),
        out_channels=16,
        num_outs=5,
        stack=2,
        start_level=2,
        end_level=-1,
        fpn_name="bifpn_sum",
    ),
    head=dict(
        type="FCOSHead",
        num_classes=3,
        in_strides=[8, 16, 32, 64, 128],
        out_strides=[8, 16, 32, 64, 128],
        stride2channels=dict({8: 16, 16: 16, 32: 16, 64: 16, 128: 16}),
        upscale_bbox_pred=False,
        feat_channels=16,
        stacked_convs=2,
        int8_output=False,
        int16_output=True,
        dequant_output=False,
    ),
    post_process=dict(
        type="FCOSMultiStrideFilter",
        strides=[8, 16, 32, 64, 128],
        threshold=-2.944,
        for_compile=True,
        max_shape=(64, 64),
    ),
)
deploy_inputs = dict(img=torch.randn((1, 3, 64, 64)))
