num_classes = 10
batch_size_per_gpu = 4
model = dict(
    type="Classifier",
    backbone=dict(type="TinyResNet", num_classes=num_classes, in_channels=1),
    losses=dict(type="CEWithLabelSmooth", smooth_alpha=0.1),
)
float_trainer = dict(
    type="distributed_data_parallel_trainer",
    model=model,
    optimizer=dict(type="SGD", lr=0.1 * batch_size_per_gpu / 4, momentum=0.9),
    num_epochs=2,
    callbacks=[dict(type="StatsMonitor", log_freq=100)],
)

def loss_collector(outputs: dict):
    return outputs["losses"]

def update_metric(metrics, batch, model_outs):
    for metric in metrics:
        metric.update(batch[1], model_outs)
