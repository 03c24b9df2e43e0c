# GaNet-MixVarGENet on CuLane, on a 2-core CPU: HAT's
# configs/lane_pred/ganet/ganet_mixvargenet_culane.py as the GaNet tutorial
# (../shared/seeds/004_ganet_culane_tutorial.txt) describes it, with only
# what must change for this machine marked "cpu:".
#
# HAT_LANE_SCALE scales every size of the pipeline (FixedCrop window, the
# 320x800 network input, the attention's pos_shape, the metric's canvas and
# lane width). 1 is HAT's CuLane setting (1640x590 frames); the demo runs 0.5
# on synthesized 820x295 CuLane-format frames:
#
#   hat-pack --synthesize culane --out $D --split train --num-images 1000 --size 820
#   hat-pack --synthesize culane --out $D --split val --num-images 200 --size 820 --seed 1
#   hat-pack --format culane --src $D --split train --out $D/train_lmdb
#   hat-pack --format culane --src $D --split val --out $D/val_lmdb
#   HAT_CULANE=$D HAT_LANE_SCALE=0.5 hat-train --config configs/lane_pred/ganet_mixvargenet_culane.py --stage all
#
# scripts/demo-lane.sh runs all of it and compiles and runs the HBM. Paths
# move with HAT_CULANE (data root) and HAT_CKPT_DIR.
import copy
import os

import torch
from horizon_plugin_pytorch.march import March

import hat
from hat.data.collates.collates import collate_2d
from hat.models.backbones.mixvargenet import MixVarGENetConfig

training_step = os.environ.get("HAT_TRAINING_STEP", "float")
task_name = "ganet_mixvargenet_culane"
batch_size_per_gpu = 8  # cpu: one process
device_ids = [0]  # cpu: one process
ckpt_dir = os.environ.get("HAT_CKPT_DIR", "./tmp_models/%s" % task_name)
data_root = os.environ.get("HAT_CULANE", "./tmp_data/culane")  # cpu: movable
cudnn_benchmark = False  # cpu
seed = 1  # cpu: reproducible runs
log_rank_zero_only = True
march = March.NASH_E
float_epochs = int(os.environ.get("HAT_LANE_EPOCHS", "4"))  # cpu
qat_epochs = 2  # cpu
num_workers = 2  # cpu: 2 cores

# cpu: every size of HAT's config times HAT_LANE_SCALE (1: 1640x590 frames,
# crop (0, 270, 1640, 320), input 320x800).
scale = float(os.environ.get("HAT_LANE_SCALE", "1"))
image_width, image_height = round(1640 * scale), round(590 * scale)
crop = (0, round(270 * scale), image_width, round(320 * scale))
input_height, input_width = round(320 * scale), round(800 * scale)
# The attention runs on the stride-32 map: its position embedding has that
# map's size (HAT: (1, 10, 25) at 320x800).
pos_shape = (1, -(-input_height // 32), -(-input_width // 32))
lane_width = max(1, round(30 * scale))

bn_kwargs = {}
radius = 2
hid_dim = 32
attn_ratio = 4


def stage(cin, cout, op, stack, stride):
    return [
        MixVarGENetConfig(
            in_channels=cin,
            out_channels=cout,
            head_op=op,
            stack_ops=[op] * stack,
            stride=stride,
            stack_factor=1,
            fusion_strides=[],
            extra_downsample_num=0,
        )
    ]


net_config = [
    stage(32, 32, "mixvarge_f2", 0, 1),
    stage(32, 32, "mixvarge_f4", 2, 2),
    stage(32, 64, "mixvarge_f4", 2, 2),
    stage(64, 96, "mixvarge_f2_gb16", 6, 2),
    stage(96, 160, "mixvarge_f2_gb16", 2, 2),
]

model = dict(
    type="GaNet",
    backbone=dict(
        type="MixVarGENet",
        net_config=net_config,
        disable_quanti_input=False,
        input_channels=3,
        input_sequence_length=1,
        num_classes=1000,
        bn_kwargs=bn_kwargs,
        include_top=False,
        bias=True,
        output_list=[2, 3, 4],
    ),
    neck=dict(
        type="GaNetNeck",
        fpn_module=dict(
            type="FPN",
            in_strides=[8, 16, 32],
            in_channels=[64, 96, hid_dim],
            out_strides=[8, 16, 32],
            out_channels=[hid_dim, hid_dim, hid_dim],
        ),
        attn_in_channels=[160],
        attn_out_channels=[hid_dim],
        attn_ratios=[attn_ratio],
        pos_shape=pos_shape,  # cpu: scaled with the input
    ),
    head=dict(
        type="GaNetHead",
        in_channel=hid_dim,
    ),
    targets=dict(
        type="GaNetTarget",
        hm_down_scale=8,
        radius=radius,
    ),
    post_process=dict(
        type="GaNetDecoder",
        root_thr=1,
        kpt_thr=0.4,
        cluster_thr=5,
        downscale=8,
        # cpu: HAT keeps lanes of more than 10 keypoints on 40 map rows; the
        # map has 40 * scale rows.
        min_points=max(2, round(10 * scale)),
    ),
    losses=dict(
        type="GaNetLoss",
        loss_kpts_cls=dict(type="LaneFastFocalLoss", loss_weight=1.0),
        loss_pts_offset_reg=dict(type="L1Loss", loss_weight=0.5),
        loss_int_offset_reg=dict(type="L1Loss", loss_weight=1.0),
    ),
)

# The deployed model: the BPU part up to the three maps; the decoder runs on
# the CPU after it (its description travels in the HBM).
deploy_model = copy.deepcopy(model)
deploy_model["targets"] = None
deploy_model["losses"] = None

deploy_inputs = dict(img=torch.randn((1, 3, input_height, input_width)))

train_transforms = [
    dict(type="FixedCrop", size=crop),
    dict(type="RandomFlip", px=0.5, py=0.0),
    dict(
        type="Resize",
        img_scale=(input_height, input_width),
        multiscale_mode="value",
        keep_ratio=False,
    ),
    dict(
        type="RandomSelectOne",
        transforms=[
            dict(
                type="RGBShift",
                r_shift_limit=(-10, 10),
                g_shift_limit=(-10, 10),
                b_shift_limit=(-10, 10),
                p=1.0,
            ),
            dict(
                type="HueSaturationValue",
                hue_range=(-10, 10),
                sat_range=(-15, 15),
                val_range=(-10, 10),
                p=1.0,
            ),
        ],
        p=0.7,
    ),
    dict(type="JPEGCompress", p=0.2, max_quality=85, min_quality=95),
    dict(
        type="RandomSelectOne",
        transforms=[
            dict(type="MeanBlur", ksize=3, p=1.0),
            dict(type="MedianBlur", ksize=3, p=1.0),
        ],
        p=0.2,
    ),
    dict(
        type="RandomBrightnessContrast",
        brightness_limit=(-0.2, 0.2),
        contrast_limit=(-0.0, 0.0),
        p=0.5,
    ),
    dict(
        type="ShiftScaleRotate",
        shift_limit=(-0.1, 0.1),
        scale_limit=(0.8, 1.2),
        rotate_limit=(-10, 10),
        interpolation=1,
        border_mode=0,
        p=0.6,
    ),
    dict(
        type="RandomResizedCrop",
        height=input_height,
        width=input_width,
        scale=(0.8, 1.2),
        ratio=(1.7, 2.7),
        p=0.6,
    ),
    dict(type="ToTensor", to_yuv=False),
]

val_transforms = [
    dict(type="FixedCrop", size=crop),
    dict(
        type="Resize",
        img_scale=(input_height, input_width),
        multiscale_mode="value",
        keep_ratio=False,
    ),
    dict(type="ToTensor", to_yuv=False),
]

data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(
        type="CuLaneDataset",
        data_path=os.path.join(data_root, "train_lmdb"),
        to_rgb=True,
        transforms=train_transforms,
    ),
    sampler=dict(type=torch.utils.data.DistributedSampler),
    batch_size=batch_size_per_gpu,
    shuffle=True,
    num_workers=num_workers,
    pin_memory=False,  # cpu
    collate_fn=collate_2d,
)

val_data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(
        type="CuLaneDataset",
        data_path=os.path.join(data_root, "val_lmdb"),
        to_rgb=True,
        transforms=val_transforms,
    ),
    batch_size=batch_size_per_gpu,
    shuffle=False,
    num_workers=num_workers,
    pin_memory=False,  # cpu
    collate_fn=collate_2d,
)


def loss_collector(outputs: dict):
    losses = []
    for _, loss in outputs.items():
        losses.append(loss)
    return losses


# The BPU takes YUV444: the RGB batch is converted on the whole batch, then
# normalised to [-1, 1).
batch_transforms = [
    dict(type="BgrToYuv444", rgb_input=True),
    dict(type="TorchVisionAdapter", interface="Normalize", mean=128.0, std=128.0),
]

batch_processor = dict(
    type="MultiBatchProcessor",
    need_grad_update=True,
    loss_collector=loss_collector,
    batch_transforms=batch_transforms,
)
val_batch_processor = dict(
    type="MultiBatchProcessor",
    need_grad_update=False,
    batch_transforms=batch_transforms,
)


def update_loss(metrics, batch, model_outs):
    for metric in metrics:
        metric.update(model_outs)


loss_show_update = dict(
    type="MetricUpdater",
    metric_update_func=update_loss,
    step_log_freq=10,
    epoch_log_freq=1,
    log_prefix="loss_" + task_name,
)


def update_metric(metrics, batch, model_outs):
    for metric in metrics:
        metric.update(batch["ori_gt_lines"], model_outs["pred_lanes"])


val_metric_updater = dict(
    type="MetricUpdater",
    metric_update_func=update_metric,
    step_log_freq=10,
    epoch_log_freq=1,
    log_prefix="Validation " + task_name,
)

# The official CULane F1 on the stored frame (cpu: canvas and lane width
# scaled with the frames).
val_metrics = dict(
    type="CulaneF1Score",
    img_shape=(image_height, image_width, 1),
    width=lane_width,
)

stat_callback = dict(type="StatsMonitor", log_freq=10)
trace_callback = dict(
    type="SaveTraced",
    save_dir=ckpt_dir,
    trace_inputs=deploy_inputs,
)
ckpt_callback = dict(
    type="Checkpoint",
    save_dir=ckpt_dir,
    name_prefix=training_step + "-",
    save_interval=1,
    strict_match=True,
    mode="max",
    monitor_metric_key="CulaneF1Score",
)
val_callback = dict(
    type="Validation",
    data_loader=val_data_loader,
    batch_processor=val_batch_processor,
    callbacks=[val_metric_updater],
    val_model=None,
    init_with_train_model=False,
    val_interval=1,
    val_on_train_end=True,
)

float_trainer = dict(
    type="distributed_data_parallel_trainer",
    model=model,
    data_loader=data_loader,
    # Cosine schedule with warmup and L2 weight decay, as the tutorial says.
    optimizer=dict(
        type=torch.optim.AdamW,
        betas=(0.9, 0.999),
        lr=0.001,
        weight_decay=1e-2,
    ),
    batch_processor=batch_processor,
    num_epochs=float_epochs,  # cpu
    device=None,
    callbacks=[
        stat_callback,
        loss_show_update,
        dict(
            type="CosLrUpdater",
            warmup_len=1,
            warmup_by="epoch",
            step_log_interval=50,
        ),
        val_callback,
        ckpt_callback,
    ],
    train_metrics=dict(type="LossShow"),
    sync_bn=True,
    val_metrics=val_metrics,
)

calibration_data_loader = copy.deepcopy(data_loader)
calibration_data_loader.pop("sampler")
calibration_data_loader["dataset"]["transforms"] = val_transforms
calibration_trainer = dict(
    type="Calibrator",
    model=model,
    model_convert_pipeline=dict(
        type="ModelConvertPipeline",
        qat_mode="fuse_bn",
        converters=[
            dict(
                type="LoadCheckpoint",
                checkpoint_path=os.path.join(ckpt_dir, "float-checkpoint-best.pth.tar"),
            ),
            dict(type="Float2Calibration"),
        ],
    ),
    data_loader=calibration_data_loader,
    batch_processor=copy.deepcopy(val_batch_processor),
    num_steps=10,
    device=None,
    callbacks=[stat_callback, val_callback, ckpt_callback],
    val_metrics=val_metrics,
    log_interval=1,
)

qat_trainer = dict(
    type="distributed_data_parallel_trainer",
    model=model,
    model_convert_pipeline=dict(
        type="ModelConvertPipeline",
        qat_mode="fuse_bn",
        converters=[
            dict(type="Float2QAT"),
            dict(
                type="LoadCheckpoint",
                checkpoint_path=os.path.join(
                    ckpt_dir, "calibration-checkpoint-best.pth.tar"
                ),
            ),
        ],
    ),
    data_loader=data_loader,
    optimizer=dict(
        type=torch.optim.AdamW,
        betas=(0.9, 0.999),
        lr=0.0001,  # a tenth of the float lr
        weight_decay=1e-2,
    ),
    batch_processor=batch_processor,
    num_epochs=qat_epochs,  # cpu
    device=None,
    callbacks=[
        stat_callback,
        loss_show_update,
        dict(type="StepDecayLrUpdater", lr_decay_id=[1], step_log_interval=500),
        val_callback,
        ckpt_callback,
    ],
    train_metrics=dict(type="LossShow"),
    val_metrics=val_metrics,
)

int_infer_trainer = dict(
    type="Trainer",
    model=deploy_model,
    model_convert_pipeline=dict(
        type="ModelConvertPipeline",
        qat_mode="fuse_bn",
        converters=[
            dict(type="Float2QAT"),
            dict(
                type="LoadCheckpoint",
                checkpoint_path=os.path.join(ckpt_dir, "qat-checkpoint-best.pth.tar"),
                ignore_extra=True,
            ),
            dict(type="QAT2Quantize"),
        ],
    ),
    data_loader=None,
    optimizer=None,
    batch_processor=None,
    num_epochs=0,
    device=None,
    callbacks=[ckpt_callback, trace_callback],
)

compile_dir = os.path.join(ckpt_dir, "compile")
compile_cfg = dict(
    march=march,
    name="ganet_mixvargenet_culane",
    out_dir=compile_dir,
    hbm=os.path.join(compile_dir, "model.hbm"),
    layer_details=True,
    input_source=["pyramid"],
    opt="O3",
)


def predictor(stage, converters):
    return dict(
        type="Predictor",
        model=deploy_model if stage == "int_infer" else model,
        model_convert_pipeline=dict(
            type="ModelConvertPipeline",
            qat_mode="fuse_bn",
            converters=converters,
        ),
        data_loader=[val_data_loader],
        batch_processor=val_batch_processor,
        device=None,
        metrics=val_metrics,
        callbacks=[val_metric_updater],
        log_interval=50,
    )


float_predictor = predictor(
    "float",
    [
        dict(
            type="LoadCheckpoint",
            checkpoint_path=os.path.join(ckpt_dir, "float-checkpoint-best.pth.tar"),
        )
    ],
)
qat_predictor = predictor(
    "qat",
    [
        dict(type="Float2QAT"),
        dict(
            type="LoadCheckpoint",
            checkpoint_path=os.path.join(ckpt_dir, "qat-checkpoint-best.pth.tar"),
            ignore_extra=True,
        ),
    ],
)
int_infer_predictor = predictor(
    "int_infer",
    [
        dict(type="Float2QAT"),
        dict(
            type="LoadCheckpoint",
            checkpoint_path=os.path.join(ckpt_dir, "qat-checkpoint-best.pth.tar"),
            ignore_extra=True,
        ),
        dict(type="QAT2Quantize"),
    ],
)
