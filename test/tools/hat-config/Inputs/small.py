model = dict(type="FCOS", head=dict(num_classes=80, strides=[8, 16]))
num_epochs = 300
