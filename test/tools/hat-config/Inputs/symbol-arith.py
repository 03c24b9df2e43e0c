import torch
opt = torch.optim.SGD
x = opt + 1
