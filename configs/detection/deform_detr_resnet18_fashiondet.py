# Deformable DETR (ResNet18) on fashion-det (the synthetic COCO stand-in), on a
# 2-core CPU: the small counterpart of deform_detr_resnet50_mscoco.py with the
# Deformable-DETR tutorial's pipeline (custom_param_optimizer over AdamW with
# backbone / norm / sampling-offset rules, GradClip, StepDecayLrUpdater;
# Float2Calibration with the MSE observer; QAT from the calibration
# checkpoint at a tenth of the float lr). What differs from the COCO config
# is marked "fashion-det:":
#   * data: fashion-det LMDBs and annotation file, 10 classes;
#   * input: 128x128 (HAT_IMAGE_SIZE changes it), ResNet18 from scratch
#     (no ImageNet weights on this machine: the backbone trains at the full
#     lr instead of a tenth);
#   * a narrow transformer: width 128, 4 heads, 4 points, 2 encoder and 2
#     decoder layers, 30 queries; the COCO config's 4 levels (strides 8 to
#     64: at stride 16 the smallest objects, 14 px at 128 px, would cover
#     one cell);
#   * train augmentation: resize keeping the ratio, pad, horizontal flip
#     (the COCO config adds scale jitter, a random crop and HSV, which cost
#     accuracy on a schedule of a few thousand steps, as they did for FCOS:
#     docs/detection.md);
#   * batch size 16 on one CPU process, num_workers 2, seed 1.
# Paths can be moved with HAT_FASHION_DET (data root) and HAT_CKPT_DIR;
# HAT_DETR_EPOCHS sets the float epochs.
#
#   hat-train --config configs/detection/deform_detr_resnet18_fashiondet.py --stage all
#
# scripts/demo-detr.sh runs it all, compiles the integer model and runs the
# HBM over the val set.
import copy
import os

import torch
from horizon_plugin_pytorch.march import March

import hat
from hat.utils.config import ConfigVersion

VERSION = ConfigVersion.v2
training_step = os.environ.get("HAT_TRAINING_STEP", "float")
task_name = "deform_detr_resnet18_fashiondet"
num_classes = 10  # fashion-det
batch_size_per_gpu = 16  # fashion-det
device_ids = [0]  # fashion-det: one CPU process
ckpt_dir = os.environ.get("HAT_CKPT_DIR", "./tmp_models/%s" % task_name)
cudnn_benchmark = False
seed = 1
log_rank_zero_only = True
bn_kwargs = {}
data_root = os.environ.get("HAT_FASHION_DET", "./tmp_data/fashion_det")
image_size = int(os.environ.get("HAT_IMAGE_SIZE", "128"))  # fashion-det
float_epochs = int(os.environ.get("HAT_DETR_EPOCHS", "50"))  # fashion-det
qat_epochs = 2  # fashion-det
num_workers = 2  # fashion-det: 2 cores
embed_dims = 128  # fashion-det
num_levels = 4
march = March.NASH_E
num_decoder_layers = 2  # fashion-det
# int16 outputs for the decoders' deformable cross-attention (value and
# offset projections, attention weights and their softmax, the sampled
# values, the output projection and the sums in it), read by every
# Float2Calibration / Float2QAT conversion. The builder already makes the
# sampling locations, the sums before each layer norm, the reference points
# and the box path int16. With every activation int16 calibration keeps the
# float mAP; of the backbone, the encoder and the decoder, only the
# decoder's int8 costs mAP, and within it the cross-attention
# (docs/detection.md, "Deformable DETR").
qconfig = dict(
    module_name={
        "decoder.layers.%d.cross_attn.%s" % (layer, op): "qint16"
        for layer in range(num_decoder_layers)
        for op in [
            "value_proj",
            "sampling_offsets",
            "add",
            "attention_weights",
            "softmax",
            "sampling",
            "output_proj",
            "add_1",
        ]
    }
)


def make_model(aux_loss):
    return dict(
        type="DeformableDETR",
        backbone=dict(
            type="ResNet18",
            num_classes=1000,
            include_top=False,  # layer1..layer4 (strides 4..32)
            bn_kwargs=bn_kwargs,
        ),
        neck=dict(  # the input projections: 1x1 conv + BN per level
            type="ChannelMapper",
            in_channels=[128, 256, 512],  # strides 8, 16 and 32
            out_channels=embed_dims,
            kernel_size=1,
            num_outs=num_levels,  # one extra 3x3 stride-2 level (stride 64)
        ),
        position_embedding=dict(
            type="PositionEmbeddingSine",
            num_feats=embed_dims // 2,
            temperature=10000,
            normalize=True,
        ),
        transformer=dict(
            type="DeformableDetrTransformer",
            embed_dims=embed_dims,
            num_heads=4,  # fashion-det
            num_levels=num_levels,
            num_points=4,
            num_encoder_layers=2,  # fashion-det
            num_decoder_layers=num_decoder_layers,
            feedforward_channels=512,  # fashion-det
        ),
        head=dict(
            type="DeformableDETRHead",
            num_classes=num_classes,
            num_queries=30,  # fashion-det: at most 8 objects per image
            aux_loss=aux_loss,
        ),
        criterion=dict(
            type="SetCriterion",
            matcher=dict(
                type="HungarianMatcher", cost_class=2.0, cost_bbox=5.0, cost_giou=2.0
            ),
            loss_ce=2.0,
            loss_bbox=5.0,
            loss_giou=2.0,
            focal_alpha=0.25,
        ),
        post_process=dict(type="DeformableDETRPostProcess", num_select=100),
    )


model = make_model(aux_loss=True)
# The deployed network ends at the last decoder layer's predictions.
deploy_model = make_model(aux_loss=False)
deploy_model.pop("criterion")
deploy_inputs = dict(img=torch.randn((1, 3, image_size, image_size)))
deploy_model_convert_pipeline = dict(
    type="ModelConvertPipeline",
    qat_mode="fuse_bn",
    converters=[dict(type="Float2QAT"), dict(type="QAT2Quantize")],
)
data_loader = dict(
    type=torch.utils.data.DataLoader,  # Use torch's native DataLoader
    dataset=dict(  # Process of obtaining datasets
        type="Coco",  # Corresponding to coco's dataset obtaining interface
        data_path=os.path.join(data_root, "train_lmdb"),  # fashion-det:  # Path to the dataset
        transforms=[  # Data transformation process
            dict(
                type="Resize",  # Resizing operation
                img_scale=(image_size, image_size),  # fashion-det:  # Image size after resizing
                keep_ratio=True,  # Whether to maintain the aspect ratio during scaling
            ),
            dict(  # Padding operation
                type="Pad",
                size=(image_size, image_size),  # fashion-det:
            ),
            dict(  # Random flipping operation
                type="RandomFlip",
                px=0.5,  # Probability of flipping in the x direction
                py=0,  # Probability of flipping in the y direction
            ),
            dict(
                type="ToTensor",  # Convert numpy to tensor
                to_yuv=True,  # Whether the image is converted to yuv format
            ),
            dict(  # Normalization operation, from [0,255] to [-1,1]
                type="Normalize",
                mean=128.0,
                std=128.0,
            ),
        ],
    ),
    sampler=dict(
        type=torch.utils.data.DistributedSampler
    ),  # Sampling method of the dataset in DDP training mode
    batch_size=batch_size_per_gpu,  # Batch_size of a single device
    shuffle=True,  # Whether to shuffle the data
    num_workers=num_workers,  # fashion-det:  # Number of processes for data reading
    pin_memory=False,  # fashion-det: CPU  # Whether to use pin_memory
    collate_fn=hat.data.collates.collate_2d,  # Method to collate and pack multiple images in batches
)  # PS:For a detailed explanation of each parameter of DataLoader, refer to torch's official documentation # Loading process of the validation dataset, similar to the training dataset
val_data_loader = dict(
    type=torch.utils.data.DataLoader,
    dataset=dict(
        type="Coco",
        data_path=os.path.join(data_root, "val_lmdb"),  # fashion-det:
        transforms=[
            dict(
                type="Resize",
                img_scale=(image_size, image_size),  # fashion-det:
                keep_ratio=True,
            ),
            dict(
                type="Pad",
                size=(image_size, image_size),  # fashion-det:
            ),
            dict(
                type="ToTensor",
                to_yuv=True,
            ),
            dict(
                type="Normalize",
                mean=128.0,
                std=128.0,
            ),
        ],
    ),
    batch_size=batch_size_per_gpu,
    shuffle=False,
    num_workers=num_workers,  # fashion-det:
    pin_memory=False,  # fashion-det: CPU
    collate_fn=hat.data.collates.collate_2d,
)  # This function usually outputs the model output, to be specific, the loss part of the model outputs for the later gradient update


def loss_collector(outputs: dict):
    losses = []
    for _, loss in outputs.items():
        losses.append(loss)
    return losses


# This function updates the loss. Usually used to print loss during model training. It can be understood together with the following places that are called
def update_loss(metrics, batch, model_outs):
    for metric in metrics:
        metric.update(model_outs)


# Definiton of the function that prints the loss during the training
loss_show_update = dict(
    type="MetricUpdater",
    metric_update_func=update_loss,
    step_log_freq=1,
    epoch_log_freq=1,
    log_prefix="loss_ " + task_name,
)  # Processing method of the training dataset for each iteration
batch_processor = dict(
    type="MultiBatchProcessor",
    need_grad_update=True,  # Whether to perform gradient update
    loss_collector=loss_collector,  # Method to get the loss
)  # Processing method of the validation dataset for each iteration
val_batch_processor = dict(
    type="MultiBatchProcessor",
    need_grad_update=False,  # Whether to perform gradient update
)  # Update method of the model metrics, here the metric is mAP


def update_metric(metrics, batch, model_outs):
    for metric in metrics:
        metric.update(model_outs)


# Update method of the validation metrics during model validation process
val_metric_updater = dict(
    type="MetricUpdater",
    metric_update_func=update_metric,
    step_log_freq=10,  # fashion-det:
    epoch_log_freq=1,
    log_prefix="Validation " + task_name,
)  # Set the frequency as per which the training logs are printed
stat_callback = dict(
    type="StatsMonitor",
    log_freq=1,
)  # Trace the model and save the corresponding pt file
trace_callback = dict(
    type="SaveTraced",
    save_dir=ckpt_dir,
    trace_inputs=deploy_inputs,
)  # Save the weights of the model
ckpt_callback = dict(
    type="Checkpoint",
    save_dir=ckpt_dir,
    name_prefix=training_step + "-",
    save_interval=1,
    strict_match=True,
    mode="max",
    monitor_metric_key="mAP",
)  # Validate the model after training
val_callback = dict(
    type="Validation",
    data_loader=val_data_loader,
    batch_processor=val_batch_processor,
    callbacks=[val_metric_updater],
    val_model=None,
    init_with_train_model=False,
    val_interval=1,
    val_on_train_end=True,
)  # Settings for floating-point model training
float_trainer = dict(
    type="distributed_data_parallel_trainer",  # DDP training
    model=model,  # Model involved in the training
    data_loader=data_loader,  # Dataset involved in the training
    optimizer=dict(  # AdamW with per-parameter rules (the tutorial's optimizer)
        type="custom_param_optimizer",
        optim_cls=torch.optim.AdamW,
        optim_cfgs=dict(lr=2e-4, weight_decay=1e-4),
        custom_param_mapper={
            # fashion-det: the backbone is not pretrained, so it keeps the
            # full lr (the COCO config gives a pretrained backbone a tenth)
            "sampling_offsets": dict(lr=2e-5),
            "reference_points": dict(lr=2e-5),
            "norm_types": dict(weight_decay=0.0),
        },
    ),
    batch_processor=batch_processor,  # How each iteration of the training dataset is processed
    num_epochs=float_epochs,  # fashion-det:  # Number of epochs for model training
    device=None,  # Device for model training
    callbacks=[  # Callbacks that will be called during model training
        stat_callback,
        loss_show_update,
        dict(type="GradClip", max_norm=0.1, log_interval=100),
        dict(
            type="StepDecayLrUpdater",
            lr_decay_id=[float_epochs * 4 // 5],  # Deformable DETR: decay at 40 of 50
            lr_decay_factor=0.1,
            step_log_interval=500,
        ),
        val_callback,
        ckpt_callback,
    ],
    train_metrics=dict(  # Metrics in the training process, used to print loss
        type="LossShow",
    ),
    sync_bn=True,  # Whether to synchronize BN
    val_metrics=dict(  # Metrics in the validation process, used to print the metrics
        type="COCODetectionMetric",
        ann_file=os.path.join(data_root, "annotations/instances_val2017.json"),  # fashion-det:
    ),
)
calibration_data_loader = copy.deepcopy(
    data_loader
)  # Dataset involved in the calibration
calibration_data_loader.pop(
    "sampler"
)  # Calibration can only run on a single device, so no sample is required
calibration_batch_processor = copy.deepcopy(
    val_batch_processor
)  # How each iteration of the calibration dataset is processed # Settings for Calibration model training
calibration_trainer = dict(
    type="Calibrator",
    model=model,
    model_convert_pipeline=dict(  # Convert the model from float to the one for calibration
        type="ModelConvertPipeline",
        qat_mode="fuse_bn",
        converters=[
            dict(
                type="LoadCheckpoint",  # Loads the float checkpoint before calibration
                checkpoint_path=os.path.join(ckpt_dir, "float-checkpoint-best.pth.tar"),
            ),
            dict(type="Float2Calibration", observer="mse"),  # MSE calibration  # Converts the model from float to the one for calibration
        ],
    ),
    data_loader=calibration_data_loader,
    batch_processor=calibration_batch_processor,
    num_steps=10,  # Number of steps of calibration
    device=None,
    callbacks=[
        stat_callback,
        val_callback,
        ckpt_callback,
    ],
    val_metrics=dict(
        type="COCODetectionMetric",
        ann_file=os.path.join(data_root, "annotations/instances_val2017.json"),  # fashion-det:
    ),
    log_interval=1,
)  # Settings for the QAT model training. For parameter meanings, refer to float_trainer
qat_trainer = dict(
    type="distributed_data_parallel_trainer",
    model=model,
    model_convert_pipeline=dict(  # Converts the model from float to qat
        type="ModelConvertPipeline",
        qat_mode="fuse_bn",
        converters=[
            dict(type="Float2QAT"),  # Converts the model from a float model to qat
            dict(  # Loads Calibration checkpoint after conversion
                type="LoadCheckpoint",
                checkpoint_path=os.path.join(  #
                    ckpt_dir, "calibration-checkpoint-best.pth.tar"
                ),
            ),
        ],
    ),
    data_loader=data_loader,
    optimizer=dict(
        type="custom_param_optimizer",
        optim_cls=torch.optim.AdamW,
        optim_cfgs=dict(lr=2e-5, weight_decay=1e-4),  # a tenth of the float lr
        custom_param_mapper={
            "sampling_offsets": dict(lr=2e-6),
            "reference_points": dict(lr=2e-6),
            "norm_types": dict(weight_decay=0.0),
        },
    ),
    batch_processor=batch_processor,
    num_epochs=qat_epochs,  # fashion-det: Number of training epochs of qat is usually much smaller than that of float
    device=None,
    callbacks=[
        stat_callback,
        loss_show_update,
        dict(type="GradClip", max_norm=0.1, log_interval=100),
        dict(
            type="StepDecayLrUpdater",
            lr_decay_id=[1],  # fashion-det: decay in the last QAT epoch
            step_log_interval=500,
        ),
        val_callback,
        ckpt_callback,
    ],
    train_metrics=dict(
        type="LossShow",
    ),
    val_metrics=dict(
        type="COCODetectionMetric",
        ann_file=os.path.join(data_root, "annotations/instances_val2017.json"),  # fashion-det:
    ),
)  # Settings for quantized model training. Usually, no training is performed at this stage # Only the model parameters of quantize and the pt file of the model are saved by callbacks
int_infer_trainer = dict(
    type="Trainer",
    model=deploy_model,  # Deploy_model
    model_convert_pipeline=dict(  # Converts model from float to quantized
        type="ModelConvertPipeline",
        qat_mode="fuse_bn",
        converters=[
            dict(type="Float2QAT"),  # Converts model from float to qat
            dict(  # Loads qat checkpoint
                type="LoadCheckpoint",
                checkpoint_path=os.path.join(ckpt_dir, "qat-checkpoint-best.pth.tar"),
                ignore_extra=True,
            ),
            dict(type="QAT2Quantize"),  # Converts model from qat to quantize
        ],
    ),
    data_loader=None,
    optimizer=None,
    batch_processor=None,
    num_epochs=0,  # Epoch=0 to skip the training
    device=None,
    callbacks=[
        ckpt_callback,  # Saves quantized model parameters
        trace_callback,  # Saves quantized model pt file
    ],
)  # Model compilation settings
compile_dir = os.path.join(ckpt_dir, "compile")
compile_cfg = dict(
    march=march,
    name="deform_detr_r18_fashiondet",
    out_dir=compile_dir,
    hbm=os.path.join(compile_dir, "model.hbm"),
    layer_details=True,
    input_source=["pyramid"],
    opt="O3",
)  # Settings for float model predictor
float_predictor = dict(
    type="Predictor",  # Predictor
    model=model,  # Model involved in the predict
    model_convert_pipeline=dict(  # Loads float model checkpoint before predicting
        type="ModelConvertPipeline",
        converters=[
            dict(
                type="LoadCheckpoint",
                checkpoint_path=os.path.join(ckpt_dir, "float-checkpoint-best.pth.tar"),
            ),
        ],
    ),
    data_loader=[val_data_loader],  # Dataset involved in the prediction
    batch_processor=val_batch_processor,  # How each iteration of the validation dataset is processed
    device=None,
    metrics=dict(  # Metrics to print
        type="COCODetectionMetric",
        ann_file=os.path.join(data_root, "annotations/instances_val2017.json"),  # fashion-det:
    ),
    callbacks=[
        val_metric_updater,
    ],
    log_interval=50,
)  # Settings for qat model predictor
qat_predictor = dict(
    type="Predictor",
    model=model,
    model_convert_pipeline=dict(  # Converts the model from float to qat
        type="ModelConvertPipeline",
        qat_mode="fuse_bn",
        converters=[
            dict(type="Float2QAT"),  # Converts the model from float to qat
            dict(  # Loads qat checkpoint
                type="LoadCheckpoint",
                checkpoint_path=os.path.join(ckpt_dir, "qat-checkpoint-best.pth.tar"),
                ignore_extra=True,
            ),
        ],
    ),
    data_loader=[val_data_loader],
    batch_processor=val_batch_processor,
    device=None,
    metrics=dict(
        type="COCODetectionMetric",
        ann_file=os.path.join(data_root, "annotations/instances_val2017.json"),  # fashion-det:
    ),
    callbacks=[
        val_metric_updater,
    ],
    log_interval=50,
)  # Settings for quantized model predictor
int_infer_predictor = dict(
    type="Predictor",
    model=model,
    model_convert_pipeline=dict(  # Converts the model from float to quantized
        type="ModelConvertPipeline",
        qat_mode="fuse_bn",
        converters=[
            dict(type="Float2QAT"),  # Converts the model from float to qat
            dict(  # Loads the qat checkpoint
                type="LoadCheckpoint",
                checkpoint_path=os.path.join(ckpt_dir, "qat-checkpoint-best.pth.tar"),
                ignore_extra=True,
            ),
            dict(type="QAT2Quantize"),  # Converts the model from qat to quantized
        ],
    ),
    data_loader=[val_data_loader],
    batch_processor=val_batch_processor,
    device=None,
    metrics=dict(
        type="COCODetectionMetric",
        ann_file=os.path.join(data_root, "annotations/instances_val2017.json"),  # fashion-det:
    ),
    callbacks=[
        val_metric_updater,
    ],
    log_interval=50,
)
