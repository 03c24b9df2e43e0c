# Fashion-MNIST end to end: float training, calibration, QAT and integer
# validation of a small residual CNN, on 2 CPU cores in a few minutes.
#
#   hat-train --config configs/classification/fashion_mnist_tinyresnet.py --stage all
#
# The data are Debian's dataset-fashion-mnist IDX files, read directly (no
# packing needed); pack them with `hat-pack --format fashion-mnist` and point
# data_path at the LMDBs to train from LMDB instead.
import os

import torch
from horizon_plugin_pytorch.march import March

import hat
from hat.utils.config import ConfigVersion

VERSION = ConfigVersion.v2
training_step = os.environ.get("HAT_TRAINING_STEP", "float")
task_name = "fashion_mnist_tinyresnet"
num_classes = 10
batch_size_per_gpu = 128
device_ids = [0]
ckpt_dir = os.environ.get("HAT_CKPT_DIR", "./tmp_models/%s" % task_name)
cudnn_benchmark = False
seed = 1
log_rank_zero_only = True
bn_kwargs = {}
march = March.NASH_E
data_path = os.environ.get("HAT_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
float_epochs = 8
qat_epochs = 1
calibration_steps = 30
num_workers = 2

backbone = dict(
    type="TinyResNet",
    channels=[16, 32, 64],
    num_classes=num_classes,
    bn_kwargs=bn_kwargs,
)
model = dict(
    type="Classifier",
    backbone=backbone,
    losses=dict(type="CEWithLabelSmooth", smooth_alpha=0.05),
)
deploy_model = dict(type="Classifier", backbone=backbone)
deploy_inputs = dict(img=torch.randn((1, 1, 28, 28)))

# Fashion-MNIST pixels are in [0, 255]; ToTensor keeps that range and
# Normalize maps it to roughly zero mean, unit variance.
train_transforms = [
    dict(type="RandomFlip", px=0.5),
    dict(type="ToTensor"),
    dict(type="Normalize", mean=72.94, std=90.02),
]
val_transforms = [
    dict(type="ToTensor"),
    dict(type="Normalize", mean=72.94, std=90.02),
]

data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(type="FashionMNIST", data_path=data_path, split="train",
                 transforms=train_transforms),
    sampler=dict(type=torch.utils.data.DistributedSampler),
    batch_size=batch_size_per_gpu,
    shuffle=True,
    num_workers=num_workers,
    pin_memory=True,
    drop_last=True,
    collate_fn=hat.data.collates.collate_2d,
)
val_data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(type="FashionMNIST", data_path=data_path, split="val",
                 transforms=val_transforms),
    batch_size=500,
    shuffle=False,
    num_workers=num_workers,
    pin_memory=True,
    collate_fn=hat.data.collates.collate_2d,
)


def loss_collector(outputs: tuple):
    _, losses = outputs
    return [loss for _, loss in losses.items()]


def update_loss(metrics, batch, model_outs):
    _, losses = model_outs
    for metric in metrics:
        metric.update(losses)


def update_metric(metrics, batch, model_outs):
    for metric in metrics:
        metric.update(batch["labels"], model_outs)


batch_processor = dict(
    type="MultiBatchProcessor",
    need_grad_update=True,
    loss_collector=loss_collector,
)
val_batch_processor = dict(
    type="MultiBatchProcessor",
    need_grad_update=False,
    loss_collector=None,
)
calibration_batch_processor = val_batch_processor

stat_callback = dict(type="StatsMonitor", log_freq=100)
loss_show_update = dict(
    type="MetricUpdater",
    metric_update_func=update_loss,
    step_log_freq=100,
    epoch_log_freq=1,
    log_prefix="loss_" + task_name,
)
val_metric_updater = dict(
    type="MetricUpdater",
    metric_update_func=update_metric,
    step_log_freq=0,
    epoch_log_freq=1,
    log_prefix="Validation " + task_name,
)
val_callback = dict(
    type="Validation",
    data_loader=val_data_loader,
    batch_processor=val_batch_processor,
    callbacks=[val_metric_updater],
    val_interval=1,
    val_on_train_end=False,
)
ckpt_callback = dict(
    type="Checkpoint",
    save_dir=ckpt_dir,
    name_prefix=training_step + "-",
    save_interval=1,
    strict_match=True,
    mode="max",
    monitor_metric_key="accuracy",
)
trace_callback = dict(type="SaveTraced", save_dir=ckpt_dir)

float_trainer = dict(
    type="distributed_data_parallel_trainer",
    model=model,
    data_loader=data_loader,
    optimizer=dict(
        type=torch.optim.SGD,
        params={"weight": dict(weight_decay=5e-4)},
        lr=0.1,
        momentum=0.9,
        nesterov=True,
    ),
    batch_processor=batch_processor,
    num_epochs=float_epochs,
    device=None,
    callbacks=[
        stat_callback,
        loss_show_update,
        dict(type="CosLrUpdater", warmup_len=1, warmup_by="epoch"),
        val_callback,
        ckpt_callback,
    ],
    sync_bn=True,
    train_metrics=dict(type="LossShow"),
    val_metrics=[dict(type="Accuracy"), dict(type="TopKAccuracy", top_k=2)],
)

calibration_trainer = dict(
    type="Calibrator",
    model=model,
    model_convert_pipeline=dict(
        type="ModelConvertPipeline",
        qat_mode="fuse_bn",
        converters=[
            dict(type="LoadCheckpoint",
                 checkpoint_path=os.path.join(ckpt_dir, "float-checkpoint-best.pth.tar")),
            dict(type="Float2Calibration", observer="mse"),
        ],
    ),
    data_loader=data_loader,
    batch_processor=calibration_batch_processor,
    num_steps=calibration_steps,
    device=None,
    callbacks=[
        stat_callback,
        dict(val_callback, val_on_train_end=True),
        ckpt_callback,
    ],
    val_metrics=[dict(type="Accuracy"), dict(type="TopKAccuracy", top_k=2)],
    log_interval=calibration_steps // 10,
)

qat_trainer = dict(
    type="distributed_data_parallel_trainer",
    model=model,
    model_convert_pipeline=dict(
        type="ModelConvertPipeline",
        qat_mode="fuse_bn",
        converters=[
            dict(type="Float2QAT"),
            dict(type="LoadCheckpoint",
                 checkpoint_path=os.path.join(ckpt_dir, "calibration-checkpoint-best.pth.tar")),
        ],
    ),
    data_loader=data_loader,
    optimizer=dict(
        type=torch.optim.SGD,
        params={"weight": dict(weight_decay=4e-5)},
        lr=0.002,
        momentum=0.9,
    ),
    batch_processor=batch_processor,
    num_epochs=qat_epochs,
    device=None,
    callbacks=[
        stat_callback,
        loss_show_update,
        dict(type="CosLrUpdater", warmup_len=0),
        val_callback,
        ckpt_callback,
    ],
    train_metrics=dict(type="LossShow"),
    val_metrics=[dict(type="Accuracy"), dict(type="TopKAccuracy", top_k=2)],
)

int_infer_trainer = dict(
    type="Trainer",
    model=deploy_model,
    model_convert_pipeline=dict(
        type="ModelConvertPipeline",
        qat_mode="fuse_bn",
        converters=[
            dict(type="Float2QAT"),
            dict(type="LoadCheckpoint",
                 checkpoint_path=os.path.join(ckpt_dir, "qat-checkpoint-best.pth.tar")),
            dict(type="QAT2Quantize"),
        ],
    ),
    data_loader=None,
    optimizer=None,
    batch_processor=None,
    num_epochs=0,
    device=None,
    callbacks=[dict(val_callback, val_on_train_end=True), trace_callback],
    val_metrics=[dict(type="Accuracy"), dict(type="TopKAccuracy", top_k=2)],
)

compile_cfg = dict(
    march=march,
    name=task_name,
    out_dir=os.path.join(ckpt_dir, "compile"),
    hbm=os.path.join(ckpt_dir, "compile", "model.hbm"),
    layer_details=True,
    input_source=["ddr"],
    opt="O3",
)
