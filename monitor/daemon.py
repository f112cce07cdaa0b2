"""Composition root: wires journal, replay, ingest, MQTT, web and systemd together."""

from __future__ import annotations

import hashlib
import json
import logging
import pickle
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, TypeVar

from alerts.cards import Transition
from alerts.config import HallConfig
from alerts.errors import ConfigError
from alerts.events import CaseEvent, Recorded
from alerts.points import points_for_transition
from alerts.supervision import Supervision
from hallkit.config import load_config, read_secret
from hallkit.exits import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK
from hallkit.sdnotify import SdNotifier
from monitor import __version__
from monitor.ingest import snapshot
from monitor.ingest.gcpolicy import LongLived
from monitor.ingest.ingestor import Classifier, IngestHealth, Ingestor, Rules, RulesFailed
from monitor.ingest.journal import Journal, OutboxRow
from monitor.ingest.mqtt import MqttLink
from monitor.ingest.replay import replay
from monitor.outputs.localstore import open_sink
from monitor.outputs.outbox import OutboxSender, rows
from monitor.outputs.publish import Presenter
from monitor.web.api import Console, Hall
from monitor.web.console import Decisions, audit_key
from monitor.web.display import DisplayHub
from monitor.web.server import Limits, Response, Route, WebServer, get_only, prometheus

logger = logging.getLogger(__name__)

FACTS_EVERY_S = 1.0  # attendance facts gather this long under a stream before the rules run
SINK_FULL_RULE = "system.timeseries_outbox_full"  # docs/timeseries.md: the outbox bound
SESSION_RULE = "system.mqtt_session_unstable"  # docs/broker.md: lost connections or session
_SYSTEM_TITLES = {
    SINK_FULL_RULE: "时序库发件箱已满，新数据点被拒收",
    SESSION_RULE: "MQTT会话反复断开或丢失（可能有其他客户端使用本系统账号接管会话）",
}

T = TypeVar("T")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Started:
    """Where a running daemon can be reached (printed by `demo`)."""

    web: tuple[str, int]
    data_dir: Path


class Daemon:
    def __init__(
        self,
        config: HallConfig,
        config_path: Path | None = None,
        notifier: SdNotifier | None = None,
        now: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.notifier = notifier or SdNotifier.from_env()
        self._now = now
        self._reload = threading.Event()
        self._state_lock = threading.Lock()
        self.started = threading.Event()
        self.reloads = {"ok": 0, "refused": 0}
        self.supervision: Supervision | None = None
        self._journal: Journal | None = None
        self._sender: OutboxSender | None = None
        self._reconfigure: HallConfig | None = None
        self.display = DisplayHub(config.hall.zone, now=now)
        self._presenter: Presenter | None = None
        self._refreshed = 0.0
        self._facts_at = 0.0  # monotonic: when attendance facts last went to the rules
        self._gc = LongLived()
        self._swept: date | None = None
        self._stale = False
        self.sink_full = 0
        self._sink_card: str | None = None
        self._session_card: str | None = None
        self.where: Started | None = None
        self.decisions: Decisions | None = None

    def request_reload(self) -> None:
        """Safe from a signal handler: the main loop does the work."""
        self._reload.set()

    def run(self, stop: threading.Event) -> int:
        cfg = self.config
        password = None
        if cfg.broker.password_file:
            password = read_secret(cfg.broker.password_file, self.config_path)
        journal = Journal.open(cfg.journal.data_dir, cfg.hall.id, cfg.journal.synchronous)
        try:
            return self._serve(journal, password, stop)
        finally:
            journal.close()

    def _serve(self, journal: Journal, password: str | None, stop: threading.Event) -> int:
        cfg = self.config
        sup, regenerated = replay(journal, cfg, snapshot.path_in(cfg.journal.data_dir))
        self.supervision, self._journal = sup, journal
        self.sink = open_sink(
            cfg.timeseries,
            cfg.journal.data_dir,
            config_path=self.config_path,
            on_full=self._sink_full,
        )
        # Transitions of events committed just before a crash are stored now (once, by id).
        self._store(regenerated, None)
        holder: list[Ingestor] = []
        link = MqttLink(
            cfg.broker,
            cfg.client_id,
            cfg.hall.id,
            lambda m: holder[0].submit(m),
            password,
            now=self._now,  # receive times follow the daemon's clock, as the ticks do
            expect_session=sup.state.last_seq > 0,  # journaled before: the broker has a session
        )
        ingestor = Ingestor(
            journal,
            Classifier(Rules.of(cfg), journal.last_status_payloads()),
            link,
            self._apply,
            self._now,
            batch_max=cfg.journal.batch_max,
            batch_wait_s=cfg.journal.batch_wait_ms / 1000,
            on_idle=self._tick,
            on_stop=self._final_tick,
        )
        holder.append(ingestor)
        self.ingestor, self.link = ingestor, link
        key = audit_key(cfg.journal.data_dir)
        self.decisions = Decisions(
            cfg.hall.id, key, ingestor.submit, lambda: ingestor.classifier.rules
        )
        console = Console(
            Hall(
                config=lambda: self.config,
                read=self._read,
                journal=journal,
                decisions=self.decisions,
                audit_key=key,
                now=self._now,
                reload=self.request_reload,
            )
        )
        routes = {
            **self._routes(journal, ingestor, link),
            **self.display.routes(),
            **console.routes(),
        }
        limits = Limits(
            max_connections=cfg.web.max_connections, request_timeout_s=cfg.web.request_timeout_s
        )
        hosts = [*cfg.web.hosts, cfg.web.listen]
        web = self.web = WebServer(cfg.web.listen, cfg.web.port, routes, hosts=hosts, limits=limits)
        self._presenter = Presenter(
            cfg, lambda t, p, r: link.publish(t, p, retain=r), self.display, self.sink.write
        )
        with self._state_lock:
            self._presenter.refresh(sup, self._now())
        writer_stop = threading.Event()
        # Not restarted in place: a writer that died (of anything: no message can kill it)
        # makes /healthz 503 and the daemon exit non-zero, for systemd to restart it whole.
        writer = threading.Thread(
            target=lambda: ingestor.run(writer_stop), name="ingest", daemon=True
        )
        sender = OutboxSender(journal, link.publish_acked, link.subscribed, self._now)
        self._sender = sender
        sender_thread = _supervised("outbox", lambda: sender.run(writer_stop), writer_stop)
        web.start()
        self.sink.start()
        writer.start()
        sender_thread.start()
        link.start()
        self.where = Started(web.address, Path(cfg.journal.data_dir))
        self.notifier.ready()
        self.notifier.status(f"replayed {sup.state.applied} events; ingesting")
        self.started.set()
        code = self._loop(stop, link, writer)
        self.notifier.stopping()
        writer_stop.set()
        writer.join(timeout=30)
        sender_thread.join(timeout=5)
        link.stop()
        self.display.close()
        self.sink.close()
        web.stop()
        if not writer.is_alive() and ingestor.health.writer_error is None:
            self._save_snapshot(journal)  # the state holds every journaled event and tick
        logger.info("stopped; journal holds %d events", journal.event_count())
        return code

    def _save_snapshot(self, journal: Journal) -> None:
        """The next start replays only what comes after this (monitor/ingest/snapshot.py)."""
        path, sup = snapshot.path_in(self.config.journal.data_dir), self.supervision
        if sup is None:
            return
        try:
            with self._state_lock:
                snapshot.save(path, sup, journal, self.config)
        except (OSError, pickle.PicklingError) as exc:
            logger.warning("no snapshot written (%s): the next start replays it all", exc)

    def _loop(self, stop: threading.Event, link: MqttLink, writer: threading.Thread) -> int:
        tick = min(self.notifier.watchdog_interval or 1.0, 1.0)
        connects = 0
        while not stop.wait(tick):
            if link.connects != connects and link.connected.is_set() and self._presenter:
                connects = link.connects
                self._presenter.republish(self._now())  # retained lights after a reconnect
            if link.fatal is not None:
                logger.error("stopping: %s", link.fatal)
                return EXIT_CONFIG
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            self._sink_room()
            self._session_watch(link)
            if not writer.is_alive():
                logger.critical("stopping: the ingest writer died; systemd restarts the daemon")
                return EXIT_FAILURE
            self.notifier.watchdog()  # a wedged writer stops the pings: systemd restarts us
        return EXIT_OK

    def reload(self) -> bool:
        """Re-read the configuration; keep the old one if the new one is broken."""
        if self.config_path is None:
            return False
        self.notifier.reloading()
        try:
            new = load_config(self.config_path)
            _reloadable(self.config, new)
        except ConfigError as exc:
            for problem in exc.problems:
                logger.error("reload refused, old configuration kept: %s", problem)
            self.reloads["refused"] += 1
            self.notifier.ready()
            return False
        if new.broker != self.config.broker:
            logger.warning("broker settings changed: they take effect at the next restart")
        self.config = new
        self.ingestor.classifier.rules = Rules.of(new)
        self._reconfigure = new  # the writer applies it to the cards, in order with events
        self.reloads["ok"] += 1
        logger.info("configuration reloaded from %s", self.config_path)
        self.notifier.ready()
        return True

    def _apply(self, fresh: Sequence[Recorded]) -> None:
        """Writer thread, after the events' commit: derived state and card transitions."""
        with self._state_lock:
            assert self.supervision is not None
            out: list[Transition] = []
            failed: list[tuple[Recorded, Exception]] = []
            for rec in fresh:
                try:  # one event the rules fail on must not cost the others theirs
                    applied = self.supervision.apply(rec)
                    out += applied
                    if self.decisions is not None:
                        self.decisions.settle(rec, applied, self.supervision)  # a console request
                except Exception as exc:
                    failed.append((rec, exc))
            if out or any(isinstance(r.event, CaseEvent) for r in fresh):
                self._stale = True  # lights and totals: at the next tick, not per batch
        self._store(out, None)
        if failed:
            raise RulesFailed(failed)  # the ingest keeps each as an internal_error reject

    def _tick(self, final: bool = False) -> None:
        """Writer thread, between batches: fire what time made due, and journal that tick.

        Attendance facts gather for `FACTS_EVERY_S` under a stream; the `final` tick, after the
        last event of a clean stop, runs the rules on all that waits, so the journal (and a
        replay of it) ends with no fact unjudged.
        """
        now, mono = self._now(), time.monotonic()
        self._collect(now)
        facts = final or mono - self._facts_at >= FACTS_EVERY_S
        with self._state_lock:
            sup = self.supervision
            new, self._reconfigure = self._reconfigure, None
            if sup is None or (new is None and not sup.due(now, facts)):
                self._refresh_if_due()
                return
            self._facts_at = mono  # a tick runs the rules on every fact that waits
            after = sup.state.last_seq
            out = sup.reconfigure(new, now) if new is not None else []
            out += sup.tick(now)
            self._stale = self._stale or bool(out) or new is not None
            self._refresh_if_due()
        self._store(out, (after, now))

    def _collect(self, now: datetime) -> None:
        """Writer thread: the garbage-collection policy (monitor/ingest/gcpolicy.py); the full sweep
        at the first tick of each local day, when the hall is closed."""
        day = now.astimezone(self.config.hall.zone).date()
        if self._swept is None:
            self._swept = day  # the start-up froze what it built
        elif day != self._swept:
            self._swept = day
            self._gc.sweep()
        else:
            self._gc.step()

    @property
    def _ingest_health(self) -> IngestHealth | None:
        """The ingest's health, once the ingest exists (start-up stores outputs before)."""
        ingestor: Ingestor | None = getattr(self, "ingestor", None)
        return ingestor.health if ingestor is not None else None

    def _final_tick(self) -> None:
        """Writer thread, at a clean stop: the rules on every fact still waiting, journaled."""
        health = self._ingest_health
        if health is not None and health.journal_error is not None:
            logger.warning("no final tick (%s): the next start runs it", health.journal_error)
            return
        self._tick(final=True)

    def _refresh_if_due(self) -> None:
        """Lights, summary and display, with the state lock held: at most once a second when
        something changed (they walk every card and case), every 10 s for the clock."""
        since = time.monotonic() - self._refreshed
        if (self._stale and since >= 1.0) or since >= 10.0:
            self._refresh()

    def _refresh(self) -> None:
        if self._presenter is not None and self.supervision is not None:
            sup, now = self.supervision, self._now()
            try:
                self._presenter.refresh(sup, now, unknown=sup.people.unknown_windows(now))
            except (sqlite3.Error, OSError) as exc:  # the store's disk: lights follow next time
                logger.warning("lights and totals not stored: %s", exc)
                self._refreshed = time.monotonic()
                return
            self._refreshed, self._stale = time.monotonic(), False

    def _store(self, out: list[Transition], tick: tuple[int, datetime] | None) -> None:
        """Transitions to the time series (new ones), then to the journal's outbox.

        The time series first: after a crash in between, the replay finds them new again and
        writes the same points, which the server overwrites (same series, same instant).
        """
        if not out and tick is None:
            return
        assert self._journal is not None
        hall = self.config.hall.id
        stored = rows(hall, out)
        known = self._journal.known_outputs([r.id for r in stored])
        points = [
            pt
            for t, r in zip(out, stored, strict=True)
            if r.id not in known
            for pt in points_for_transition(hall, t)
        ]
        if points and self._until_stored(lambda: self.sink.write(points)) is False:
            logger.error("time-series outbox full: %d points refused", len(points))
        journal = self._journal
        self._until_stored(lambda: journal.record_outputs(stored, tick, self._now()))
        if self._sender is not None:
            self._sender.wake.set()

    def _until_stored(self, write: Callable[[], object]) -> object:
        """Retry a write of derived outputs that failed on the disk (full, I/O) until it holds.

        It runs on the writer thread, so while it waits nothing more is journaled or
        acknowledged: the broker keeps the messages, /healthz says why, nothing is lost.
        """
        delay, health = 0.5, self._ingest_health
        while True:
            try:
                done = write()
            except (sqlite3.Error, OSError) as exc:
                logger.error("storing card outputs failed, retrying in %.1f s: %s", delay, exc)
                if health is not None:
                    health.failures += 1
                    health.journal_error = f"{type(exc).__name__}: {exc}"
                time.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            if delay > 0.5 and health is not None:
                health.journal_error = None
                logger.info("card outputs stored again")
            return done

    def _sink_full(self, refused: int) -> None:
        logger.error("time-series outbox is full (%d points refused): is the server down?", refused)
        self.sink_full += 1
        self._sink_card = _card_id(SINK_FULL_RULE, self._now())
        self._system_card(self._sink_card, "raised", "condition_met", holds=True)

    def _sink_room(self) -> None:
        """Main loop: the full episode's card closes once the outbox has room again."""
        outbox = getattr(self.sink, "outbox", None)
        if self._sink_card is not None and outbox is not None and not outbox.full:
            self._system_card(self._sink_card, "closed", "cleared", holds=False)
            self._sink_card = None

    def _session_watch(self, link: MqttLink) -> None:
        """Main loop: a system card while the broker session is unstable (link.problems)."""
        trouble = bool(link.problems())
        card = self._session_card
        if trouble and card is None:
            self._session_card = card = _card_id(SESSION_RULE, self._now())
            self._system_card(card, "raised", "condition_met", holds=True, rule=SESSION_RULE)
        elif not trouble and card is not None:
            self._system_card(card, "closed", "cleared", holds=False, rule=SESSION_RULE)
            self._session_card = None

    def _system_card(
        self, card: str, state: str, why: str, *, holds: bool, rule: str = SINK_FULL_RULE
    ) -> None:
        """A card about the daemon itself (not a hall rule), published through the outbox.

        It is not part of the card engine, so a replay does not rebuild it; the journal's
        outbox keeps it like every published transition.
        """
        now, hall = self._now(), self.config.hall.id
        doc: dict[str, object] = {
            "card": card,
            "rule": rule,
            "level": "red",
            "state": state,
            "subject": {"case": None, "window": None, "staff": None},
            "owner": None,
            "answer_by": None,
            "ts": now.isoformat(),
            "evidence": [],
            "reason": why,
            "holds": holds,
            "title": _SYSTEM_TITLES[rule],
        }
        payload = json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()
        row = OutboxRow(_card_id(card, now, state), f"hall/{hall}/cards/{card}", payload)
        journal = self._journal
        if journal is not None:
            self._until_stored(lambda: journal.record_outputs([row], None, now))
        if self._sender is not None:
            self._sender.wake.set()

    def _read(self, fn: Callable[[Supervision], T]) -> T:
        """The console's reads of the live state, under the state lock."""
        with self._state_lock:
            assert self.supervision is not None
            return fn(self.supervision)

    def state_digest(self) -> str:
        with self._state_lock:
            assert self.supervision is not None
            return self.supervision.digest()

    def _routes(self, journal: Journal, ingestor: Ingestor, link: MqttLink) -> dict[str, Route]:
        def healthz() -> Response:
            doc = self._health(journal, ingestor, link)
            return Response.json(200 if doc["ok"] else 503, doc)

        def metrics() -> Response:
            return prometheus(self._metrics(journal, ingestor, link))

        def state() -> Response:
            with self._state_lock:
                assert self.supervision is not None
                return Response.json(200, self.supervision.summary())

        return {
            "/healthz": get_only(healthz),
            "/metrics": get_only(metrics),
            "/state": get_only(state),
        }

    def _health(self, journal: Journal, ingestor: Ingestor, link: MqttLink) -> dict[str, Any]:
        h = ingestor.health
        problems = []
        if not link.connected.is_set():
            problems.append("MQTT broker not connected")
        if h.journal_error:
            problems.append(f"journal: {h.journal_error}")
        if h.writer_error:
            problems.append(f"ingest writer died: {h.writer_error}")
        if link.fatal:
            problems.append(link.fatal)
        problems += link.problems()  # lost connections, a lost session (takeovers)
        return {
            "ok": not problems,
            "problems": problems,
            "hall": self.config.hall.id,
            "version": __version__,
            "queue": ingestor.queue.qsize(),
            "last_commit": h.last_commit,
            "counters": dict(journal.counters),
        }

    def _metrics(
        self, journal: Journal, ingestor: Ingestor, link: MqttLink
    ) -> list[tuple[str, str, str, dict[str, str], float]]:
        c = journal.counters
        h = ingestor.health
        rows: list[tuple[str, str, str, dict[str, str], float]] = [
            (
                "hallwatch_info",
                "gauge",
                "Build and hall.",
                {"hall": self.config.hall.id, "version": __version__},
                1,
            ),
            (
                "hallwatch_events_accepted_total",
                "counter",
                "Events journaled.",
                {},
                c.get("accepted", 0),
            ),
            (
                "hallwatch_events_duplicate_total",
                "counter",
                "Repeats of journaled events.",
                {},
                c.get("duplicate", 0),
            ),
        ]
        for key, value in sorted(c.items()):
            if key.startswith("rejected."):
                rows.append(
                    (
                        "hallwatch_events_rejected_total",
                        "counter",
                        "Messages rejected, by reason.",
                        {"reason": key[9:]},
                        value,
                    )
                )
        rows += [
            (
                "hallwatch_mqtt_connected",
                "gauge",
                "1 while connected to the broker.",
                {},
                1 if link.connected.is_set() else 0,
            ),
            (
                "hallwatch_mqtt_connects_total",
                "counter",
                "Successful connections.",
                {},
                link.connects,
            ),
            *link.metrics(),
            (
                "hallwatch_ingest_queue",
                "gauge",
                "Messages waiting for the journal.",
                {},
                ingestor.queue.qsize(),
            ),
            ("hallwatch_journal_batches_total", "counter", "Committed batches.", {}, h.batches),
            (
                "hallwatch_journal_commit_seconds_total",
                "counter",
                "Time in commits.",
                {},
                h.commit_seconds_total,
            ),
            ("hallwatch_journal_failures_total", "counter", "Failed commits.", {}, h.failures),
            (
                "hallwatch_journal_healthy",
                "gauge",
                "0 while commits fail.",
                {},
                0 if h.journal_error else 1,
            ),
            (
                "hallwatch_ingest_writer_alive",
                "gauge",
                "0 once the ingest writer died (the daemon exits).",
                {},
                0 if h.writer_error else 1,
            ),
            (
                "hallwatch_ingest_isolated_total",
                "counter",
                "Messages or events that failed past the decoder, kept as internal_error.",
                {},
                h.isolated + h.rules_errors,
            ),
            (
                "hallwatch_rejects_pruned_total",
                "counter",
                "Stored rejects pruned by age or by the size bound (still counted by reason).",
                {},
                c.get("rejects_pruned", 0),
            ),
        ]
        for key, value in sorted(c.items()):
            if key.startswith("rejects_limited."):
                rows.append(
                    (
                        "hallwatch_rejects_limited_total",
                        "counter",
                        "Rejects over their source's rate: counted, not stored, by area.",
                        {"area": key[16:]},
                        value,
                    )
                )
        for result, n in self.reloads.items():
            rows.append(
                (
                    "hallwatch_reloads_total",
                    "counter",
                    "Configuration reloads.",
                    {"result": result},
                    n,
                )
            )
        web: WebServer | None = getattr(self, "web", None)
        return rows + (web.metrics() if web is not None else [])


def _card_id(*parts: object) -> str:
    return "K-" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:16].upper()


def _reloadable(old: HallConfig, new: HallConfig) -> None:
    problems = []
    if new.hall.id != old.hall.id:
        problems.append(f"hall.id: changing {old.hall.id!r} needs a restart and a new data_dir")
    if new.journal.data_dir != old.journal.data_dir:
        problems.append("journal.data_dir: a different journal needs a restart")
    if problems:
        raise ConfigError("reload", problems)


def _supervised(
    name: str, body: Callable[[], None], stop: threading.Event, max_restarts: int = 5
) -> threading.Thread:
    """Run `body` in a thread; restart it after a crash, at most a few times a minute."""

    def loop() -> None:
        crashes: list[float] = []
        while not stop.is_set():
            try:
                body()
                return
            except Exception:
                logger.exception("%s thread crashed; restarting", name)
                now = time.monotonic()
                crashes = [t for t in crashes if now - t < 60] + [now]
                if len(crashes) > max_restarts:
                    # A lasting cause (a full disk) must not end the thread for good: slow down.
                    logger.critical(
                        "%s crashed %d times in a minute; next attempt in 30 s", name, len(crashes)
                    )
                    stop.wait(30.0)
                    continue
                stop.wait(1.0)

    return threading.Thread(target=loop, name=name, daemon=True)
