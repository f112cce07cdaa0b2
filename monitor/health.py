"""Health and metrics as data: the components' states in, checks and metric samples out.

`/healthz` renders the checks (`healthz`: 200 when every check passes, 503 with the failing
ones' problems otherwise); `/metrics` renders the samples (`monitor.web.server.prometheus`).
Nothing here reads a socket, a thread or the clock: `Components` is what the daemon read
(`Daemon.components`), at each request.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from monitor.ingest.ingestor import IngestHealth
from monitor.web.server import Response, Route, get_only, prometheus

Sample = tuple[str, str, str, dict[str, str], float]  # name, type, help, labels, value


@dataclass(frozen=True, slots=True, kw_only=True)
class JobsHealth:
    """The scheduled jobs' (monitor/jobs.py): a job whose last run failed or was missed."""

    problems: Sequence[str] = ()
    samples: Sequence[Sample] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Components:
    hall: str
    version: str
    connected: bool  # the MQTT link
    connects: int
    fatal: str | None  # a refusal by the broker that retrying cannot fix
    session_problems: Sequence[str]  # lost connections, a lost session (takeovers)
    link_samples: Sequence[Sample]
    ingest: IngestHealth
    queue: int  # messages waiting for the journal
    counters: Mapping[str, int]  # the journal's
    reloads: Mapping[str, int]  # by result: ok, refused
    web_samples: Sequence[Sample] = ()
    notice_problems: Sequence[str] = ()  # a notice channel failing past its bound
    notice_samples: Sequence[Sample] = ()
    jobs: JobsHealth = JobsHealth()  # the scheduled jobs (archives, snapshot, pruning)


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    problem: str | None = None  # None: it passes

    @property
    def ok(self) -> bool:
        return self.problem is None


def checks(c: Components) -> list[Check]:
    """In the order /healthz lists the problems."""
    h = c.ingest
    out = [
        Check("mqtt", None if c.connected else "MQTT broker not connected"),
        Check("journal", f"journal: {h.journal_error}" if h.journal_error else None),
        Check("writer", f"ingest writer died: {h.writer_error}" if h.writer_error else None),
        Check("broker_refused", c.fatal or None),
    ]
    out += [Check("session", p) for p in c.session_problems]
    out += [Check("notices", p) for p in c.notice_problems]
    return out + [Check("jobs", p) for p in c.jobs.problems]


def healthz(c: Components) -> tuple[int, dict[str, Any]]:
    """The status code and document of /healthz."""
    problems = [k.problem for k in checks(c) if k.problem is not None]
    doc = {
        "ok": not problems,
        "problems": problems,
        "hall": c.hall,
        "version": c.version,
        "queue": c.queue,
        "last_commit": c.ingest.last_commit,
        "counters": dict(c.counters),
        # How far the time-driven rules have judged, and who holds them back (docs/cards.md).
        "judged_until": c.ingest.judged,
        "holding": dict(c.ingest.holding),
    }
    return (200 if not problems else 503), doc


def _one(name: str, kind: str, help_: str, value: float, **labels: str) -> Sample:
    return (name, kind, help_, labels, value)


def _by_prefix(
    counters: Mapping[str, int], prefix: str, name: str, help_: str, label: str
) -> list[Sample]:
    return [
        _one(name, "counter", help_, value, **{label: key[len(prefix) :]})
        for key, value in sorted(counters.items())
        if key.startswith(prefix)
    ]


def samples(c: Components) -> list[Sample]:
    """Every metric sample of /metrics, in its order."""
    n, h = c.counters, c.ingest
    return [
        _one("hallwatch_info", "gauge", "Build and hall.", 1, hall=c.hall, version=c.version),
        _one(
            "hallwatch_events_accepted_total", "counter", "Events journaled.", n.get("accepted", 0)
        ),
        _one(
            "hallwatch_events_duplicate_total",
            "counter",
            "Repeats of journaled events.",
            n.get("duplicate", 0),
        ),
        *_by_prefix(
            n,
            "rejected.",
            "hallwatch_events_rejected_total",
            "Messages rejected, by reason.",
            "reason",
        ),
        _one(
            "hallwatch_mqtt_connected",
            "gauge",
            "1 while connected to the broker.",
            1 if c.connected else 0,
        ),
        _one("hallwatch_mqtt_connects_total", "counter", "Successful connections.", c.connects),
        *c.link_samples,
        *_ingest_samples(c.queue, h),
        _one(
            "hallwatch_rejects_pruned_total",
            "counter",
            "Stored rejects pruned by age or by the size bound (still counted by reason).",
            n.get("rejects_pruned", 0),
        ),
        *_by_prefix(
            n,
            "rejects_limited.",
            "hallwatch_rejects_limited_total",
            "Rejects over their source's rate: counted, not stored, by area.",
            "area",
        ),
        *(
            _one("hallwatch_reloads_total", "counter", "Configuration reloads.", k, result=r)
            for r, k in c.reloads.items()
        ),
        *c.web_samples,
        *c.notice_samples,
        *c.jobs.samples,
    ]


def _ingest_samples(queue: int, h: IngestHealth) -> list[Sample]:
    return [
        _one("hallwatch_ingest_queue", "gauge", "Messages waiting for the journal.", queue),
        _one("hallwatch_journal_batches_total", "counter", "Committed batches.", h.batches),
        _one(
            "hallwatch_journal_commit_seconds_total",
            "counter",
            "Time in commits.",
            h.commit_seconds_total,
        ),
        _one("hallwatch_journal_failures_total", "counter", "Failed commits.", h.failures),
        _one(
            "hallwatch_journal_healthy",
            "gauge",
            "0 while commits fail.",
            0 if h.journal_error else 1,
        ),
        _one(
            "hallwatch_ingest_writer_alive",
            "gauge",
            "0 once the ingest writer died (the daemon exits).",
            0 if h.writer_error else 1,
        ),
        _one(
            "hallwatch_ingest_isolated_total",
            "counter",
            "Messages or events that failed past the decoder, kept as internal_error.",
            h.isolated + h.rules_errors,
        ),
        *(
            _one(
                "hallwatch_card_voids_total",
                "counter",
                "Cards voided by late evidence, by cause (the silent source it names).",
                n,
                cause=cause,
            )
            for cause, n in sorted(h.voids.items())
        ),
        _one(
            "hallwatch_judged_lag_seconds",
            "gauge",
            "How far behind the last commit the time-driven rules have judged (sources still "
            "sending hold them back).",
            _lag(h),
        ),
    ]


def _lag(h: IngestHealth) -> float:
    if h.judged is None or h.last_commit is None:
        return 0.0
    return max(0.0, (h.last_commit - h.judged).total_seconds())


def routes(components: Callable[[], Components], summary: Callable[[], object]) -> dict[str, Route]:
    """/healthz and /metrics of the components read at each request; /state, the hall's."""
    return {
        "/healthz": get_only(lambda: Response.json(*healthz(components()))),
        "/metrics": get_only(lambda: prometheus(samples(components()))),
        "/state": get_only(lambda: Response.json(200, summary())),
    }
