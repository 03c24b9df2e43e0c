# A tiny Fashion-MNIST job for the hat-train tests: a 4/8-channel
# TinyResNet on LMDBs of a few hundred images packed by the test.
import os

import torch

import hat

data_dir = os.environ["HAT_TEST_DATA"]
ckpt_dir = os.environ["HAT_TEST_CKPT"]
seed = 3
device_ids = [0]  # one rank unless a test overrides it
task_name = "tiny"

backbone = dict(type="TinyResNet", channels=[4, 8], num_classes=10)
model = dict(type="Classifier", backbone=backbone,
             losses=dict(type="CrossEntropyLoss"))
deploy_model = dict(type="Classifier", backbone=backbone)
deploy_inputs = dict(img=torch.randn((1, 1, 28, 28)))

transforms = [dict(type="ToTensor"), dict(type="Normalize", mean=72.94, std=90.02)]
data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(type="FashionMNIST", data_path=os.path.join(data_dir, "train_lmdb"),
                 transforms=[dict(type="RandomFlip", px=0.5)] + transforms),
    sampler=dict(type=torch.utils.data.DistributedSampler),
    batch_size=32,
    shuffle=True,
    num_workers=1,
    drop_last=True,
    collate_fn=hat.data.collates.collate_2d,
)
val_data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(type="FashionMNIST", data_path=os.path.join(data_dir, "val_lmdb"),
                 transforms=transforms),
    batch_size=64,
    shuffle=False,
    num_workers=1,
    collate_fn=hat.data.collates.collate_2d,
)


def update_loss(metrics, batch, model_outs):
    for metric in metrics:
        metric.update(model_outs[1])


def update_metric(metrics, batch, model_outs):
    for metric in metrics:
        metric.update(batch["labels"], model_outs)


batch_processor = dict(
    type="BasicBatchProcessor",
    need_grad_update=True,
    loss_collector=hat.engine.processors.loss_collector.collect_loss_by_index(1),
)
val_batch_processor = dict(type="BasicBatchProcessor", need_grad_update=False)
val_callback = dict(
    type="Validation",
    data_loader=val_data_loader,
    batch_processor=val_batch_processor,
    callbacks=[dict(type="MetricUpdater", metric_update_func=update_metric,
                    log_prefix="Validation")],
    val_interval=1,
)
ckpt_callback = dict(type="Checkpoint", save_dir=ckpt_dir, save_interval=1,
                     mode="max", monitor_metric_key="accuracy")
val_metrics = [dict(type="Accuracy"), dict(type="TopKAccuracy", top_k=3)]

float_trainer = dict(
    type="distributed_data_parallel_trainer",
    model=model,
    data_loader=data_loader,
    optimizer=dict(type=torch.optim.SGD, params={"weight": dict(weight_decay=1e-4)},
                   lr=0.05, momentum=0.9),
    batch_processor=batch_processor,
    num_epochs=3,
    device=None,
    callbacks=[
        dict(type="StatsMonitor", log_freq=4),
        dict(type="MetricUpdater", metric_update_func=update_loss, step_log_freq=4,
             log_prefix="loss"),
        dict(type="CosLrUpdater", warmup_len=1, warmup_by="epoch", step_log_interval=4),
        dict(type="ExponentialMovingAverage", decay=0.9),
        val_callback,
        ckpt_callback,
    ],
    train_metrics=dict(type="LossShow"),
    val_metrics=val_metrics,
)

calibration_trainer = dict(
    type="Calibrator",
    model=model,
    model_convert_pipeline=dict(
        type="ModelConvertPipeline", qat_mode="fuse_bn",
        converters=[
            dict(type="LoadCheckpoint",
                 checkpoint_path=os.path.join(ckpt_dir, "float-checkpoint-best.pth.tar")),
            dict(type="Float2Calibration", observer="percentile"),
        ]),
    data_loader=data_loader,
    batch_processor=val_batch_processor,
    num_steps=4,
    device=None,
    callbacks=[val_callback, ckpt_callback],
    val_metrics=val_metrics,
)

qat_trainer = dict(
    type="Trainer",
    model=model,
    model_convert_pipeline=[
        dict(type="Float2QAT"),
        dict(type="LoadCheckpoint",
             checkpoint_path=os.path.join(ckpt_dir, "calibration-checkpoint-best.pth.tar")),
    ],
    data_loader=data_loader,
    optimizer=dict(type=torch.optim.AdamW, lr=1e-4),
    batch_processor=batch_processor,
    stop_by="step",
    num_steps=6,
    device=None,
    callbacks=[dict(type="StepDecayLrUpdater", lr_decay_id=[1], lr_decay_factor=0.5,
                    step_log_interval=1),
               val_callback, ckpt_callback],
    val_metrics=val_metrics,
)

int_infer_trainer = dict(
    type="Trainer",
    model=deploy_model,
    model_convert_pipeline=dict(
        type="ModelConvertPipeline", qat_mode="fuse_bn",
        converters=[
            dict(type="Float2QAT"),
            dict(type="LoadCheckpoint",
                 checkpoint_path=os.path.join(ckpt_dir, "qat-checkpoint-best.pth.tar")),
            dict(type="QAT2Quantize"),
        ]),
    data_loader=None,
    optimizer=None,
    batch_processor=None,
    num_epochs=0,
    device=None,
    callbacks=[val_callback, dict(type="SaveTraced", save_dir=ckpt_dir)],
    val_metrics=val_metrics,
)
