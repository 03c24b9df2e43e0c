x = {'a': [1, (2, 3)], **dict(b=4)}
y = x['a'][1][0] // 2 % 5
s = {1, 2, 2}
t = tuple(range(3))[::-1] + (None, True, 1e-3, 0x1F, -7)
u = [k for k, v in x.items() if v] * 2
