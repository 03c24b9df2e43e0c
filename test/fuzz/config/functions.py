def f(a, b=1, *c, **d):
    for x in a:
        if x:
            return f'{x:>3}'
    return [i for i in b]

g = lambda x, y=2: x * y if x else -y
z = f([0, 3]), g(4), sorted({3: 'a', 1: 'b'}.items())
