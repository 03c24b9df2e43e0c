import torch

model = dict(
    type="Classifier",
    backbone=dict(type="MobileNetV2", num_classes=10, alpha="wide"),
)
deploy_inputs = dict(img=torch.randn((1, 3, 32, 32)))
