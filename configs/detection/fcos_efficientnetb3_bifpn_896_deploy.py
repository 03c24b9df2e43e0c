# FCOS with an EfficientNet-B3 backbone and a BiFPN neck at 896x896: the
# seed's FCOS-EfficientNetB0 scaled as EfficientDet-D3 (BiFPN width 160,
# 6 layers, 896 input). Deploy model only: hat-config lower / hat-calops /
# hat-compile use it (the BPU perf model is calibrated on it).
import torch

num_classes = 80
strides = [8, 16, 32, 64, 128]
deploy_model = dict(
    type="FCOS",
    backbone=dict(
        type="efficientnet",
        model_type="b3",
        num_classes=1000,
        include_top=False,
        activation="relu",
        use_se_block=False,
    ),
    neck=dict(
        type="BiFPN",
        in_strides=[2, 4, 8, 16, 32],
        out_strides=strides,
        # EfficientNet-B3's stride features: 24, 32, 48, 136, 384 channels.
        stride2channels=dict({2: 24, 4: 32, 8: 48, 16: 136, 32: 384}),
        out_channels=160,
        num_outs=5,
        stack=6,
        start_level=2,
        end_level=-1,
        fpn_name="bifpn_sum",
    ),
    head=dict(
        type="FCOSHead",
        num_classes=num_classes,
        in_strides=strides,
        out_strides=strides,
        stride2channels=dict({8: 160, 16: 160, 32: 160, 64: 160, 128: 160}),
        upscale_bbox_pred=False,
        feat_channels=160,
        stacked_convs=4,
        int8_output=False,
        int16_output=True,
        dequant_output=False,
    ),
    post_process=dict(
        type="FCOSMultiStrideFilter",
        strides=strides,
        threshold=-2.944,
        for_compile=True,
        max_shape=(896, 896),
    ),
)
deploy_inputs = dict(img=torch.randn((1, 3, 896, 896)))
# Deployed as HAT's FCOS configs are (the model card's figures): images from
# the camera pyramid (NV12), so the quantize layer reads nothing from DDR.
compile_cfg = dict(
    input_source=["pyramid"],
    opt="O3",
)
