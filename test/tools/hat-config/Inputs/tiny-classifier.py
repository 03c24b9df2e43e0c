import torch

num_classes = 10
model = dict(
    type="Classifier",
    backbone=dict(type="TinyResNet", channels=[8, 16], num_classes=num_classes),
    losses=dict(type="CrossEntropyLoss"),
)
deploy_model = dict(
    type="Classifier",
    backbone=dict(type="TinyResNet", channels=[8, 16], num_classes=num_classes),
)
deploy_inputs = dict(img=torch.randn((1, 1, 28, 28)))
