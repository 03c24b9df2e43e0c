total = 0
i = 0
while i < 10:
    i += 1
    if i % 3 == 0:
        continue
    elif i == 8:
        break
    total += i
else:
    total = -1
try:
    v = [1][2]
except IndexError as e:
    v = str(e)
assert total > 0, "total"
del i
