"""nocopy.Counter: collections.Counter on a KeyDict.

The bases are (collections.Counter, _CounterBase), in that order
(_CounterBase: KeyDict with Counter's forgiving delete, in C), so Counter's
own methods keep their meaning (update/subtract add and subtract counts,
| and & are max/min, fromkeys refuses) while every store still goes through
KeyDict: collections.Counter defines no __setitem__, so KeyDict's is the one
found, and Counter's ``super().update(mapping)`` lands on KeyDict.update.
_collections._count_elements (Counter.update over an iterable) sees a
__setitem__ that is not dict's and takes its generic path, through ours.
"""
import collections

from ._core import KeyDict, _CounterBase


class Counter(collections.Counter, _CounterBase):  # type: ignore[misc]
    """A collections.Counter whose View keys are stored as bytes copies.

    ``counts[view] += 1`` finds an existing key with no copy (one hash of
    the View per lookup and per store, no allocation while the count stays a
    small int) and stores ``view.tobytes()`` only when the key is new, so the
    keys stay right when the buffer behind the View is refilled.

    Binary operations (+, -, |, &, unary + and -) return a nocopy.Counter;
    ``plain_dict | counter`` and ``counter | plain_dict`` are dict's union
    (as for collections.Counter), in a nocopy.Counter.
    """

    __slots__ = ()
    # Both from the C base (whose delete is Counter's): with a Python
    # __delitem__ anywhere first in the MRO every store would be a by-name
    # call of __setitem__.
    __setitem__ = _CounterBase.__setitem__
    __delitem__ = _CounterBase.__delitem__

    def _wrap(self, result):  # collections.Counter builds a plain Counter
        if result is NotImplemented or type(result) is type(self):
            return result
        new = type(self)()
        KeyDict.update(new, result)
        return new

    def __add__(self, other):
        return self._wrap(collections.Counter.__add__(self, other))

    def __sub__(self, other):
        return self._wrap(collections.Counter.__sub__(self, other))

    def __or__(self, other):
        result = collections.Counter.__or__(self, other)
        if result is NotImplemented and isinstance(other, dict):
            # collections.Counter leaves counter | plain_dict to dict's
            # reflected |, whose plain dict would keep a View key as a View
            new = type(self)()
            KeyDict.update(new, self)
            KeyDict.update(new, other)
            return new
        return self._wrap(result)

    def __and__(self, other):
        return self._wrap(collections.Counter.__and__(self, other))

    def __pos__(self):
        return self._wrap(collections.Counter.__pos__(self))

    def __neg__(self):
        return self._wrap(collections.Counter.__neg__(self))


Counter.__module__ = "nocopy"
