"""The hall state's runner: it owns the state and its lock, on the ingest writer's thread.

The writer calls `apply` after each commit, `tick` between batches and `final_tick` at a
clean stop; the web threads `read` under the same lock. Its throttles run on the `Clock`:
attendance facts gather for `FACTS_EVERY_S` under a stream, lights and totals refresh at most
once a second when something changed and every `IDLE_REFRESH_S` for the clock.
"""

from __future__ import annotations

import logging
import pickle
import queue
import sqlite3
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from datetime import date, datetime, timedelta, tzinfo
from typing import TypeVar

from alerts.cards import Transition, Why
from alerts.config import HallConfig
from alerts.events import CaseEvent, Presence, Recorded, StaffStatus
from alerts.onpost import hall_on_post, staffed
from alerts.supervision import Supervision
from hallkit.clock import Clock
from monitor.ingest import snapshot
from monitor.ingest.gcpolicy import LongLived
from monitor.ingest.ingestor import IngestHealth, RulesFailed
from monitor.ingest.journal import Journal
from monitor.outputs.cardstore import CardStore
from monitor.outputs.publish import Presenter
from monitor.web.console import Decisions

logger = logging.getLogger(__name__)

T = TypeVar("T")

_Asked = tuple["Future[snapshot.Header | None]", Journal, HallConfig]

FACTS_EVERY_S = 1.0  # attendance facts gather this long under a stream before the rules run
CHANGED_REFRESH_S = 1.0  # lights and totals walk every card and case: not per batch
IDLE_REFRESH_S = 10.0  # the display's clock and day change without any event
CATCH_UP_LAG = timedelta(minutes=2)  # judgement this far behind: catching up (同步中)
_SHOWN = (CaseEvent, Presence, StaffStatus)  # events that move the totals or who is on post


class Runner:
    def __init__(
        self,
        sup: Supervision,
        zone: tzinfo,
        store: CardStore,
        presenter: Presenter,
        decisions: Decisions | None,
        clock: Clock,
        health: IngestHealth,
    ) -> None:
        self.supervision = sup
        # The broker's queue for the daemon's session has been read (the link's marker came
        # back, monitor/ingest/mqtt.py); until then no tick judges. The daemon sets the link's.
        self.caught_up: Callable[[], bool] = lambda: True
        self._waiting = False
        self._behind = False  # judgement held far behind the daemon's time (`_judged`)
        self._started = clock.now()  # the sources' first idle_after: nothing judged at now
        self.lock = threading.Lock()
        self._zone, self._store, self._presenter = zone, store, presenter
        self._decisions, self._clock, self._health = decisions, clock, health
        self._reconfigure: HallConfig | None = None
        self._facts_at = self._refreshed = 0.0  # monotonic: when the rules, the lights last ran
        self._stale = False  # something changed since the lights were refreshed
        self._gc = LongLived()
        self._swept: date | None = None
        self._asked: queue.SimpleQueue[_Asked] = queue.SimpleQueue()  # snapshot_soon

    def read(self, fn: Callable[[Supervision], T]) -> T:
        """The console's reads of the live state, under the state lock."""
        with self.lock:
            return fn(self.supervision)

    def show(self, caught_up: Callable[[], bool] | None = None) -> None:
        """The first lights and totals, before the ingest starts; `caught_up`: the link's."""
        if caught_up is not None:
            self.caught_up = caught_up
        with self.lock:
            self._present(self._clock.now())

    def reconfigure(self, new: HallConfig) -> None:
        """A reloaded configuration: the writer applies it to the cards at its next tick, in
        order with the events."""
        self._zone, self._reconfigure = new.hall.zone, new

    def apply(self, fresh: Sequence[Recorded]) -> None:
        """After the events' commit: derived state and card transitions."""
        with self.lock:
            sup = self.supervision
            out: list[Transition] = []
            failed: list[tuple[Recorded, Exception]] = []
            for rec in fresh:
                try:  # one event the rules fail on must not cost the others theirs
                    applied = sup.apply(rec)
                    out += applied
                    if self._decisions is not None:
                        self._decisions.settle(rec, applied, sup)  # a console request
                except Exception as exc:
                    failed.append((rec, exc))
            if out or any(isinstance(r.event, _SHOWN) for r in fresh):
                self._stale = True  # lights, totals, who is on post: at the next tick
        self._count_voids(out)
        self._store.store(out, None)
        if failed:
            raise RulesFailed(failed)  # the ingest keeps each as an internal_error reject

    def tick(self, final: bool = False) -> None:
        """Between batches: fire what time made due, and journal that tick.

        The `final` tick, after the last event of a clean stop, runs the rules on all the
        facts that wait, so the journal (and a replay of it) ends with no fact unjudged.
        """
        if not self._asked.empty():
            self._write_asked()  # here the state holds every journaled event and tick
        if not self._judging(final):
            return
        wall, mono = self._clock.now(), self._clock.monotonic()
        self._collect(wall)
        facts = final or mono - self._facts_at >= FACTS_EVERY_S
        with self.lock:
            sup = self.supervision
            # Judged up to where every source still sending is heard (alerts/sources.py).
            held = sup.judge_until(wall, self._started)
            if held is None:
                return  # just started, every source quiet: what they hold may be on its way
            now = held
            new, self._reconfigure = self._reconfigure, None
            if new is None and not sup.due(now, facts):
                self._judged(sup, wall, now, complete=facts)  # with facts: nothing waits
                return
            self._facts_at = mono  # a tick runs the rules on every fact that waits
            after = sup.state.last_seq
            out = sup.reconfigure(new, now) if new is not None else []
            out += sup.tick(now)
            self._stale = self._stale or bool(out) or new is not None
            self._judged(sup, wall, now, complete=True)
        self._count_voids(out)
        self._store.store(out, (after, now))

    def _judged(self, sup: Supervision, wall: datetime, now: datetime, *, complete: bool) -> None:
        """After a tick, or none due: how far judged, who holds it back, and the lights.

        Judgement held far behind the daemon's time (a backlog arriving as fast as it is
        sent: the demo's past days, a clock's upload, a neighbour system catching up) is
        a catch-up like the broker queue's: the lights and the display keep their last
        state, marked 同步中, instead of replaying the past on the hall's screens."""
        if complete:  # every check due up to `now` has run
            self._health.judged = now
        self._health.holding = sup.sources.holding(wall)
        behind = wall - now > max(sup.sources.idle_after, CATCH_UP_LAG)
        if behind != self._behind:
            self._behind = behind
            self._presenter.display.catching_up(behind)
            self._stale = True
            if behind:
                logger.info("judgement held at %s: sources catching up", now.isoformat())
            else:
                logger.info("judgement caught up with the sources")
        if not behind:
            self._refresh_if_due()

    def _count_voids(self, out: Sequence[Transition]) -> None:
        """Voids by cause, for /metrics (`hallwatch_card_voids_total`)."""
        causes = [t.cause or "unattributed" for t in out if t.why is Why.VOID]
        if causes:
            voids = dict(self._health.voids)  # replaced whole: /metrics reads it unlocked
            for cause in causes:
                voids[cause] = voids.get(cause, 0) + 1
            self._health.voids = voids

    def _judging(self, final: bool) -> bool:
        """No time-driven judgement while a backlog drains: the instants it covers may be
        contradicted by what is still queued. The lights keep their last state meanwhile and
        the display says 同步中 (catching up)."""
        if self.caught_up():
            if self._waiting:
                self._waiting = False
                self._presenter.display.catching_up(self._behind)
                self._stale = True  # what the backlog changed: at this tick
            return True
        if final:
            logger.warning("no final tick: the broker's queue was not read to its end")
        elif not self._waiting:
            self._waiting = True
            logger.info("catching up with the broker's queue: ticks wait")
            self._presenter.display.catching_up(True)
        return False

    def final_tick(self) -> None:
        """At a clean stop: the rules on every fact still waiting, journaled."""
        if self._health.journal_error is not None:
            logger.warning("no final tick (%s): the next start runs it", self._health.journal_error)
            return
        self.tick(final=True)

    def save_snapshot(self, journal: Journal, cfg: HallConfig) -> None:
        """The next start replays only what comes after this (monitor/ingest/snapshot.py)."""
        path = snapshot.path_in(cfg.journal.data_dir)
        try:
            with self.lock:
                snapshot.save(path, self.supervision, journal, cfg)
        except (OSError, pickle.PicklingError) as exc:
            logger.warning("no snapshot written (%s): the next start replays it all", exc)

    def snapshot_soon(self, journal: Journal, cfg: HallConfig) -> Future[snapshot.Header | None]:
        """A snapshot written on the writer thread at its next tick (the nightly job's,
        monitor/jobs.py); the future fails with the error that stopped it."""
        asked: Future[snapshot.Header | None] = Future()
        self._asked.put((asked, journal, cfg))
        return asked

    def _write_asked(self) -> None:
        while not self._asked.empty():
            asked, journal, cfg = self._asked.get_nowait()
            if not asked.set_running_or_notify_cancel():
                continue  # the daemon is stopping: its stop writes one
            try:
                with self.lock:
                    path = snapshot.path_in(cfg.journal.data_dir)
                    header = snapshot.save(path, self.supervision, journal, cfg)
            except (OSError, pickle.PicklingError) as exc:
                asked.set_exception(exc)
            else:
                asked.set_result(header)

    def _collect(self, now: datetime) -> None:
        """The garbage-collection policy (monitor/ingest/gcpolicy.py); the full sweep at the
        first tick of each local day, when the hall is closed."""
        day = now.astimezone(self._zone).date()
        if self._swept is None:
            self._swept = day  # the start-up froze what it built
        elif day != self._swept:
            self._swept = day
            self._gc.sweep()
        else:
            self._gc.step()

    def _refresh_if_due(self) -> None:
        """Lights, summary and display, with the state lock held."""
        since = self._clock.monotonic() - self._refreshed
        if (self._stale and since >= CHANGED_REFRESH_S) or since >= IDLE_REFRESH_S:
            self._refresh()

    def _present(self, now: datetime) -> None:
        """Lights and totals, with who is on post now and the staffed count (alerts/onpost.py)."""
        sup, people = self.supervision, self.supervision.people
        posts = hall_on_post(people.windows.values(), people.statuses, now, people.posts)
        officers = {w: p.officer for w, p in posts.items()}
        unknown = people.unknown_windows(now)
        self._presenter.refresh(sup, now, unknown, officers, staffed(posts.values()))

    def _refresh(self) -> None:
        try:
            self._present(self._clock.now())
        except (sqlite3.Error, OSError) as exc:  # the store's disk: lights follow next time
            logger.warning("lights and totals not stored: %s", exc)
            self._refreshed = self._clock.monotonic()
            return
        self._refreshed, self._stale = self._clock.monotonic(), False
