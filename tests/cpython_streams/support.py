"""The test.support / socket_helper helpers the vendored tests import
(from CPython 3.11.7, Lib/test/support; PSF License), reduced to what they use."""
import os
import socket
import tempfile
import unittest

SHORT_TIMEOUT = 30.0
LOOPBACK_TIMEOUT = 5.0

_bind_nix_socket_error = None


def requires_subprocess():
    """Used for subprocess, os.spawn calls, fd inheritance"""
    return unittest.skipUnless(True, "requires subprocess support")


class socket_helper:
    """The parts of test.support.socket_helper used here."""

    HOSTv4 = "127.0.0.1"

    @staticmethod
    def find_unused_port(family=socket.AF_INET, socktype=socket.SOCK_STREAM):
        with socket.socket(family, socktype) as tempsock:
            tempsock.bind(("127.0.0.1", 0))
            return tempsock.getsockname()[1]

    @staticmethod
    def skip_unless_bind_unix_socket(test):
        """Decorator for tests requiring a functional bind() for unix sockets."""
        global _bind_nix_socket_error
        if not hasattr(socket, "AF_UNIX"):
            return unittest.skip("No UNIX Sockets")(test)
        if _bind_nix_socket_error is None:
            path = os.path.join(tempfile.mkdtemp(), "can_bind_unix_socket")
            with socket.socket(socket.AF_UNIX) as sock:
                try:
                    sock.bind(path)
                    _bind_nix_socket_error = False
                except OSError as e:
                    _bind_nix_socket_error = e
                finally:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
                    os.rmdir(os.path.dirname(path))
        if _bind_nix_socket_error:
            msg = "Requires a functional unix bind(): %s" % _bind_nix_socket_error
            return unittest.skip(msg)(test)
        return test
