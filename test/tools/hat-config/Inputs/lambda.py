batch_size = 24
scale = lambda x: x * 2
