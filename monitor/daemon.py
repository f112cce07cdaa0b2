"""Composition root: wires journal, replay, ingest, MQTT, web and systemd together."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alerts.cards import Transition
from alerts.points import points_for_transition
from monitor import __version__
from monitor.config import ConfigError, HallConfig, load_config, read_secret
from monitor.display import DisplayHub
from monitor.events import CaseEvent
from monitor.ingest import Classifier, Ingestor, Recorded, Rules
from monitor.journal import Journal
from monitor.localstore import open_sink
from monitor.mqtt import MqttLink
from monitor.outbox import OutboxSender, rows
from monitor.outputs import Presenter
from monitor.replay import replay
from monitor.sdnotify import SdNotifier
from monitor.supervision import Supervision
from monitor.web import Response, WebServer, prometheus

logger = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_CONFIG = 2


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
        self._stale = False
        self.sink_full = 0
        self.where: Started | None = None

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
        sup, regenerated = replay(journal, cfg)
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
            cfg.broker, cfg.client_id, cfg.hall.id, lambda m: holder[0].submit(m), password
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
        )
        holder.append(ingestor)
        self.ingestor, self.link = ingestor, link
        routes = {**self._routes(journal, ingestor, link), **self.display.routes()}
        web = WebServer(cfg.web.listen, cfg.web.port, routes)
        self._presenter = Presenter(
            cfg, lambda t, p, r: link.publish(t, p, retain=r), self.display, self.sink.write
        )
        with self._state_lock:
            self._presenter.refresh(sup, self._now())
        writer_stop = threading.Event()
        writer = _supervised("ingest", lambda: ingestor.run(writer_stop), writer_stop)
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
        logger.info("stopped; journal holds %d events", journal.event_count())
        return code

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
            if writer.is_alive():
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
            out = [t for rec in fresh for t in self.supervision.apply(rec)]
            if out or any(isinstance(r.event, CaseEvent) for r in fresh):
                self._stale = True  # lights and totals: at the next tick, not per batch
        self._store(out, None)

    def _tick(self) -> None:
        """Writer thread, between batches: fire what time made due, and journal that tick."""
        now = self._now()
        with self._state_lock:
            sup = self.supervision
            new, self._reconfigure = self._reconfigure, None
            if sup is None or (new is None and not sup.due(now)):
                self._refresh_if_due()
                return
            after = sup.state.last_seq
            out = sup.reconfigure(new, now) if new is not None else []
            out += sup.tick(now)
            self._stale = self._stale or bool(out) or new is not None
            self._refresh_if_due()
        self._store(out, (after, now))

    def _refresh_if_due(self) -> None:
        """Lights, summary and display, with the state lock held: at most once a second when
        something changed (they walk every card and case), every 10 s for the clock."""
        since = time.monotonic() - self._refreshed
        if (self._stale and since >= 1.0) or since >= 10.0:
            self._refresh()

    def _refresh(self) -> None:
        if self._presenter is not None and self.supervision is not None:
            sup, now = self.supervision, self._now()
            self._presenter.refresh(sup, now, unknown=sup.people.unknown_windows(now))
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
        if points and not self.sink.write(points):
            logger.error("time-series outbox full: %d points refused", len(points))
        self._journal.record_outputs(stored, tick, self._now())
        if self._sender is not None:
            self._sender.wake.set()

    def _sink_full(self, refused: int) -> None:
        logger.error("time-series outbox is full (%d points refused): is the server down?", refused)
        self.sink_full += 1

    def state_digest(self) -> str:
        with self._state_lock:
            assert self.supervision is not None
            return self.supervision.digest()

    def _routes(
        self, journal: Journal, ingestor: Ingestor, link: MqttLink
    ) -> dict[str, Callable[[], Response]]:
        def healthz() -> Response:
            doc = self._health(journal, ingestor, link)
            return Response.json(200 if doc["ok"] else 503, doc)

        def metrics() -> Response:
            return prometheus(self._metrics(journal, ingestor, link))

        def state() -> Response:
            with self._state_lock:
                assert self.supervision is not None
                return Response.json(200, self.supervision.summary())

        return {"/healthz": healthz, "/metrics": metrics, "/state": state}

    def _health(self, journal: Journal, ingestor: Ingestor, link: MqttLink) -> dict[str, Any]:
        h = ingestor.health
        problems = []
        if not link.connected.is_set():
            problems.append("MQTT broker not connected")
        if h.journal_error:
            problems.append(f"journal: {h.journal_error}")
        if link.fatal:
            problems.append(link.fatal)
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
        ]
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
        return rows


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
                    logger.critical(
                        "%s crashed %d times in a minute; giving up", name, len(crashes)
                    )
                    return
                stop.wait(1.0)

    return threading.Thread(target=loop, name=name, daemon=True)
