# The Fashion-MNIST validation loader alone (10 classes), for hat-run --config.
import os

import torch

import hat

val_data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(type="FashionMNIST",
                 data_path=os.path.join(os.environ["HAT_TEST_DATA"], "val_lmdb"),
                 transforms=[dict(type="ToTensor")]),
    batch_size=16,
    shuffle=False,
    num_workers=1,
    collate_fn=hat.data.collates.collate_2d,
)
