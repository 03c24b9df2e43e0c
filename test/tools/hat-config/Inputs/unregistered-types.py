import torch

deploy_model = dict(
    type="NoSuchDetector",
    backbone=dict(type="efficientnet", include_top=False),
    neck=dict(type="NoSuchNeck"),
    head=dict(type="NoSuchHead"),
    # Losses and targets are the engine's: not checked by lowering.
    targets=dict(type="NoSuchTarget"),
    loss_cls=dict(type="NoSuchLoss"),
)
deploy_inputs = dict(img=torch.randn((1, 3, 64, 64)))
