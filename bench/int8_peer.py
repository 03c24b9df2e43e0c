"""What bench/pytorch_int8_cnn.py and bench/pytorch_int8_models.py share:
PyTorch FX static int8 quantization for the oneDNN engine (per-channel
weights, random calibration images) and the timing loop, printing one line
per (threads, batch): `pytorch-fp32-eager T B IMAGES_PER_S` and
`pytorch-int8-onednn T B IMAGES_PER_S`, which the bench scripts pair with
HAT's runtime figures.
"""
import copy
import time

import torch


def images_per_second(model, x, iters):
    """Images/s of `iters` calls after three untimed ones."""
    with torch.no_grad():
        for _ in range(3):
            model(x)
        start = time.perf_counter()
        for _ in range(iters):
            model(x)
        elapsed = time.perf_counter() - start
    return x.shape[0] * iters / elapsed


def run_peer(model, size, iters, calibration_batches=4, calibration_size=2):
    """Quantizes `model` (eval mode, 3 x size x size input) and prints the
    fp32 and int8 rates at 1 and 2 threads, batch 1 and 8."""
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    torch.backends.quantized.engine = "onednn"
    example = torch.randn(1, 3, size, size)
    prepared = prepare_fx(model, get_default_qconfig_mapping("onednn"),
                          example_inputs=(example,))
    with torch.no_grad():
        for _ in range(calibration_batches):
            prepared(torch.randn(calibration_size, 3, size, size))
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch in (1, 8):
            # PyTorch 1.13's oneDNN int8 convolutions keep what their first
            # call saw (input shape, threads): a converted model run at
            # another batch or thread count can fail with "could not create
            # a primitive descriptor for a reorder primitive" (MobileNetV2
            # does). A fresh conversion per (threads, batch) is what a
            # deployment would have anyway.
            quantized = convert_fx(copy.deepcopy(prepared))
            x = torch.randn(batch, 3, size, size)
            fp32 = images_per_second(model, x, iters)
            int8 = images_per_second(quantized, x, iters)
            print(f"pytorch-fp32-eager {threads} {batch} {fp32:.1f}")
            print(f"pytorch-int8-onednn {threads} {batch} {int8:.1f}")
