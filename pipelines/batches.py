"""Batch scheduling: each batch to where it runs, the results back in batch order.

Prefect-free: the flow says where batches run by callables (:class:`Runner`), and this module
decides when, and reassembles what comes back. Batches run in this process
(``Runner.here``) or are submitted, ``per_task`` of them a task, to workers
(``Runner.submit``; ``Runner.wait`` collects a task's results, ``Runner.done`` says without
waiting whether it has finished). At most ``in_flight`` tasks are out, so reading never runs
far ahead of the workers; with ``share`` this process analyses the next batch itself while
that many are out, instead of waiting. Results come back in any order and leave in batch
order (1, 2, ...), so parts and rows keep the input order whichever worker finished first.

A task's jobs and results cross to another process pickled (:func:`pack`, :func:`unpack`):
a task runner would otherwise walk every record to track dependencies.
"""

from __future__ import annotations

import pickle
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar


class Numbered(Protocol):
    """A batch's result: it knows the number of its batch (from 1, in input order)."""

    @property
    def number(self) -> int: ...


Job = TypeVar("Job")
Result = TypeVar("Result", bound=Numbered)
Future = TypeVar("Future")


def _never(future: Any) -> bool:
    return False


def _nothing(stage: str) -> None:
    pass


@dataclass(frozen=True)
class Runner(Generic[Job, Result, Future]):
    """Where batches run: ``here`` runs jobs in this process; ``submit`` (None: everything
    runs here) hands a task of jobs to a worker, whose results ``wait`` collects."""

    here: Callable[[list[Job]], list[Result]]
    submit: Callable[[list[Job]], Future] | None = None
    wait: Callable[[Future], list[Result]] | None = None
    done: Callable[[Future], bool] = _never  # finished, without waiting
    in_flight: int = 1  # tasks submitted and not yet collected, at most
    share: bool = False  # while in_flight tasks are out, run the next batch here
    per_task: int = 1  # batches a submitted task takes, one after the other

    def __post_init__(self) -> None:
        if self.submit is not None and self.wait is None:
            raise ValueError("a Runner that submits needs wait")
        if self.in_flight < 1 or self.per_task < 1:
            raise ValueError(f"in_flight and per_task must be >= 1, not {self}")


class InOrder(Generic[Result]):
    """Results by batch number, released in order whichever finished first."""

    def __init__(self) -> None:
        self._ready: dict[int, Result] = {}  # done out of order, waiting for earlier ones
        self.released = 0

    def add(self, results: Iterable[Result]) -> list[Result]:
        """The results that can now leave, in batch order."""
        for result in results:
            self._ready[result.number] = result
        leaving = []
        while self.released + 1 in self._ready:
            self.released += 1
            leaving.append(self._ready.pop(self.released))
        return leaving

    def check_complete(self) -> None:
        if self._ready:
            raise RuntimeError(
                f"batches {sorted(self._ready)} were never preceded by batch {self.released + 1}"
            )


def run_in_order(
    jobs: Iterable[Job],
    runner: Runner[Job, Result, Future],
    tick: Callable[[str], None] = _nothing,
) -> Iterator[Result]:
    """Every job's result, in job order, as soon as it and those before it are in.

    ``tick("ingest")`` is called once the next job is read, ``tick("batches")`` once it is
    placed (and the results that could be collected were): the caller's clock. The caller's
    time with a result counts as ``"batches"``."""
    order: InOrder[Result] = InOrder()
    pending: deque[Future] = deque()
    group: list[Job] = []  # read for the next task, up to per_task
    for job in jobs:
        tick("ingest")
        while pending and runner.done(pending[0]):
            yield from order.add(_collect(runner, pending.popleft()))
        if runner.submit is None or (
            runner.share and not group and len(pending) >= runner.in_flight
        ):
            # In this process: no workers, or the workers have enough queued.
            yield from order.add(runner.here([job]))
        else:
            group.append(job)
            if len(group) == runner.per_task:
                pending.append(runner.submit(group))
                group = []
        del job  # a job holds its batch's text: not beyond its dispatch
        while len(pending) > runner.in_flight:
            yield from order.add(_collect(runner, pending.popleft()))
        tick("batches")
    if group:
        assert runner.submit is not None  # only a submitting runner groups jobs
        pending.append(runner.submit(group))
    del group
    while pending:
        yield from order.add(_collect(runner, pending.popleft()))
    tick("batches")
    order.check_complete()


def _collect(runner: Runner[Job, Result, Future], future: Future) -> list[Result]:
    assert runner.wait is not None  # checked by Runner
    return runner.wait(future)


def pack(items: list[Any]) -> bytes:
    """Jobs or results for another process (pickle protocol 5)."""
    return pickle.dumps(items, protocol=5)


def unpack(payload: bytes) -> list[Any]:
    """What :func:`pack` packed (from this program's own processes only)."""
    items: list[Any] = pickle.loads(payload)
    return items
