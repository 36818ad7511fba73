# nocopy.dask: Dask's serializers for View and Rope (registered on import).
from typing import Any, ClassVar

from distributed import Client, Worker
from distributed.diagnostics.plugin import WorkerPlugin

__all__ = ["install", "NocopyWorkerPlugin"]


class NocopyWorkerPlugin(WorkerPlugin):
    name: ClassVar[str]
    coalesce: int
    def __init__(self, coalesce: int = 0) -> None: ...
    def setup(self, worker: Worker) -> None: ...


def install(client: Client, *, coalesce: int = 0) -> Any: ...
