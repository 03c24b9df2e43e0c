# Containers that contain themselves (freed by the cycle collector; printed
# as [...] / {...}; refused by JSON; ordering them is an error).
from torch.nn import Conv2d

a = [1]
a.append(a)
d = {"k": 1}
d["self"] = d
t = ([],)
t[0].append(t)
args = [a]
c = Conv2d(args, d=d)
args.append(c)
text = repr(a) + str(d) + "%s" % (t,)
same = a == a


def make(x, y, z):
    local = [x, y]
    local.append(local)
    y["self"] = y
    fs = []

    def f(v=fs):
        return v

    fs.append(f)
    return len(local)


x = [1, [2]]
x[1].append(x)
