import torch

model = dict(
    type="Classifier",
    backbone=dict(type="ResNet19", num_classes=10),
)
deploy_inputs = dict(img=torch.randn((1, 3, 32, 32)))
