import os
from functools import partial
p = os.path.join('a', '%s-%d' % ('b', 1)) if 1 < 2 else None
q = '{}-{:05.1f}'.format(1, 2.5).upper().split('-')
r = partial(max, 3)
