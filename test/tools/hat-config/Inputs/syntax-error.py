num_classes = 80
model = dict(
    type="FCOS",
    head=dict(num_classes=num_classes,, feat_channels=64),
)
