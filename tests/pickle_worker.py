"""Functions the multiprocessing tests of tests/test_pickle.py run in a child
process ('spawn': a fresh interpreter imports this module by name)."""
import hashlib
import pickle


def describe(obj):
    """What a child sees of a nocopy object it received: its type name, its
    bytes and its shape, so the parent can compare with the original."""
    from nocopy import ByteBuffer, Rope, View
    if isinstance(obj, View):
        return ("View", obj.tobytes(), obj.readonly)
    if isinstance(obj, Rope):
        return ("Rope", obj.tobytes(), obj.nsegments)
    if isinstance(obj, ByteBuffer):
        return ("ByteBuffer", obj.peek().tobytes(), obj.capacity, obj.headroom, obj.storage)
    return (type(obj).__name__,)


def digest_and_modify(buf):
    """A Pool task: the argument is a ByteBuffer (a value copy of the
    parent's); consuming and writing here changes only the child's copy."""
    d = hashlib.sha256(buf.peek()).hexdigest()
    buf.consume(1)
    buf.write(b"child")
    return d, buf.peek().tobytes()


def echo(conn):
    """A Process target: receive objects (pickled in band by Connection.send)
    and out-of-band frames (header + one frame per buffer), send back what
    was received, until None."""
    while True:
        msg = conn.recv()
        if msg is None:
            break
        if msg == "oob":
            nbuf = conn.recv()
            header = conn.recv_bytes()
            bufs = [conn.recv_bytes() for _ in range(nbuf)]
            obj = pickle.loads(header, buffers=bufs)
            conn.send(describe(obj))
        else:
            conn.send(describe(msg))
            conn.send(msg)  # and the object itself, pickled back
    conn.close()
