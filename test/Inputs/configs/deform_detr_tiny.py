# A small Deformable DETR for the pipeline tests: ResNet18 features at
# strides 8, 16, 32 plus one extra level, a 1-layer encoder and 2-layer
# decoder of width 32 (4 heads, 2 points), 8 queries, 3 classes, 64x64
# input.
import torch

model = dict(
    type="DeformableDETR",
    backbone=dict(type="ResNet18", num_classes=1000, include_top=False),
    neck=dict(
        type="ChannelMapper",
        in_channels=[128, 256, 512],
        out_channels=32,
        kernel_size=1,
        num_outs=4,
    ),
    position_embedding=dict(type="PositionEmbeddingSine", num_feats=16, normalize=True),
    transformer=dict(
        type="DeformableDetrTransformer",
        embed_dims=32,
        num_heads=4,
        num_levels=4,
        num_points=2,
        num_encoder_layers=1,
        num_decoder_layers=2,
        feedforward_channels=64,
    ),
    head=dict(type="DeformableDETRHead", num_classes=3, num_queries=8, aux_loss=True),
    post_process=dict(type="DeformableDETRPostProcess", num_select=10),
)
deploy_inputs = dict(img=torch.randn((1, 3, 64, 64)))
