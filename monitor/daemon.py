"""Composition root: journal, replay, ingest, MQTT, outputs, web, systemd on one `Clock`."""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from alerts.config import HallConfig
from alerts.supervision import Supervision
from hallkit.clock import Clock, SystemClock
from hallkit.config import read_secret
from hallkit.exits import EXIT_CONFIG, EXIT_FAILURE, EXIT_OK
from hallkit.sdnotify import SdNotifier
from monitor import __version__, health, jobs
from monitor.ingest import gcpolicy, snapshot
from monitor.ingest.checkpoint import Checkpointer
from monitor.ingest.ingestor import Classifier, Inbound, IngestHealth, Ingestor, Rules
from monitor.ingest.journal import Journal
from monitor.ingest.mqtt import MqttLink
from monitor.ingest.replay import replay
from monitor.outputs.cardstore import CardStore, OutboxWriter
from monitor.outputs.localstore import open_sink
from monitor.outputs.notify import Notifier, case_deadline
from monitor.outputs.outbox import OutboxSender
from monitor.outputs.publish import Presenter
from monitor.reload import reread_or_keep
from monitor.runner import Runner
from monitor.system_cards import SystemCards
from monitor.threads import supervised
from monitor.web.api import Console, Hall
from monitor.web.console import Decisions, audit_key
from monitor.web.display import DisplayHub
from monitor.web.server import Limits, WebServer

logger = logging.getLogger(__name__)


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
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.config_path = config_path
        self.notifier = notifier or SdNotifier.from_env()
        self.clock: Clock = clock or SystemClock()
        self._reload = threading.Event()
        self.started = threading.Event()
        self.reloads = {"ok": 0, "refused": 0}
        self.display = DisplayHub(config.hall.zone, now=self.clock.now)
        self.where: Started | None = None
        self.notices: Notifier | None = None  # docs/notify.md; None without a channel

    def request_reload(self) -> None:
        """Safe from a signal handler: the main loop does the work."""
        self._reload.set()

    def run(self, stop: threading.Event) -> int:
        cfg, secret = self.config, self.config.broker.password_file
        password = read_secret(secret, self.config_path) if secret else None
        journal = Journal.open(cfg.journal.data_dir, cfg.hall.id, cfg.journal.synchronous)
        try:
            with gcpolicy.daytime():  # no full collection but the nightly sweep's
                return self._serve(journal, password, stop)
        finally:
            journal.close()

    def _serve(self, journal: Journal, password: str | None, stop: threading.Event) -> int:
        cfg, clock, hall, data = self.config, self.clock, self.config.hall.id, journal.path.parent
        sup, regenerated = replay(journal, cfg, snapshot.path_in(data))
        inbox: queue.SimpleQueue[Inbound] = queue.SimpleQueue()  # network thread -> writer
        # Receive times follow the daemon's clock; journaled events: the broker has our session.
        had = sup.state.last_seq > 0
        link = self.link = MqttLink(
            cfg.broker, cfg.client_id, hall, inbox.put, password, now=clock.now, expect_session=had
        )
        ingest_health = IngestHealth()
        sender = OutboxSender(journal, link.publish_acked, link.subscribed, clock)
        outbox = OutboxWriter(journal, clock, ingest_health, sender.wake)
        system = SystemCards(hall, clock, lambda r, at: outbox.record(r, None, at))
        on_full = system.sink_refused
        self.sink = open_sink(cfg.timeseries, data, config_path=self.config_path, on_full=on_full)
        store = CardStore(hall, self.sink, outbox)
        # Transitions of events committed just before a crash are stored now (once, by id).
        store.store(regenerated, None)
        classifier = Classifier(Rules.of(cfg), journal.last_status_payloads())
        key = audit_key(data)
        decisions = Decisions(hall, key, inbox.put, lambda: classifier.rules)
        presenter = Presenter(
            cfg, lambda t, p, r: link.publish(t, p, retain=r), self.display, self.sink.write
        )
        runner = self.runner = Runner(
            sup, cfg.hall.zone, store, presenter, decisions, clock, ingest_health
        )
        notices = self.notices = Notifier.open(
            lambda: self.config, self.config_path, journal, clock, case_deadline(runner.read)
        )
        ingestor = self.ingestor = Ingestor(
            journal,
            classifier,
            link,
            runner.apply,
            clock.now,
            batch_max=cfg.journal.batch_max,
            batch_wait_s=cfg.journal.batch_wait_ms / 1000,
            on_idle=runner.tick,
            on_stop=runner.final_tick,
            marker=(link.sync_topic, link.synced),  # the runner judges once it came back
            inbox=inbox,
            health=ingest_health,
            clock=clock,
        )
        web = self.web = self._web_server(journal, key, decisions)
        runner.show(link.caught_up.is_set)
        halt = threading.Event()
        # A dead writer is not restarted in place: /healthz 503, exit non-zero, systemd restarts.
        writer = threading.Thread(target=partial(ingestor.run, halt), name="ingest", daemon=True)
        sender_thread = supervised("outbox", lambda: sender.run(halt), halt, clock)
        wal = Checkpointer([journal.path, self.sink.path], clock)  # WAL off the writer's path
        checkpointer = supervised("checkpoint", lambda: wal.run(halt), halt, clock)
        self.jobs = jobs.start(lambda: self.config, runner, journal, clock, halt)
        web.start()
        self.sink.start()
        writer.start()
        sender_thread.start()
        checkpointer.start()
        if notices is not None:
            notices.start(halt)
        link.start()
        self.where = Started(web.address, data)
        self.notifier.ready()
        self.notifier.status(f"replayed {sup.state.applied} events; ingesting")
        self.started.set()
        code = self._loop(stop, presenter, system, writer)
        self.notifier.stopping()
        halt.set()
        writer.join(timeout=30)
        sender_thread.join(timeout=5)
        checkpointer.join(timeout=5)
        if notices is not None:
            notices.close()
        link.stop()
        self.display.close()
        self.sink.close()
        web.stop()
        if not writer.is_alive() and ingest_health.writer_error is None:
            runner.save_snapshot(journal, self.config)  # it holds every journaled event, tick
        logger.info("stopped; journal holds %d events", journal.event_count())
        return code

    def _web_server(self, journal: Journal, key: bytes, decisions: Decisions) -> WebServer:
        cfg, runner = self.config, self.runner
        console = Console(
            Hall(
                config=lambda: self.config,
                read=runner.read,
                journal=journal,
                decisions=decisions,
                audit_key=key,
                now=self.clock.now,
                reload=self.request_reload,
                notices=self.notices,
            )
        )
        status = health.routes(
            lambda: self.components(journal), lambda: runner.read(Supervision.summary)
        )
        routes = {**status, **self.display.routes(), **console.routes()}
        w = cfg.web
        limits = Limits(max_connections=w.max_connections, request_timeout_s=w.request_timeout_s)
        return WebServer(w.listen, w.port, routes, hosts=[*w.hosts, w.listen], limits=limits)

    def _loop(
        self, stop: threading.Event, presenter: Presenter, system: SystemCards, w: threading.Thread
    ) -> int:
        tick = min(self.notifier.watchdog_interval or 1.0, 1.0)
        link, connects = self.link, 0
        while not self.clock.wait(stop, tick):
            if link.connects != connects and link.connected.is_set():
                connects = link.connects
                presenter.republish(self.clock.now())  # retained lights after a reconnect
            if link.fatal is not None:
                logger.error("stopping: %s", link.fatal)
                return EXIT_CONFIG
            if self._reload.is_set():
                self._reload.clear()
                self.reload()
            system.sink_room(self.sink)
            system.session(bool(link.problems()))
            if not w.is_alive():
                logger.critical("stopping: the ingest writer died; systemd restarts the daemon")
                return EXIT_FAILURE
            self.notifier.watchdog()  # a wedged writer stops the pings: systemd restarts us
        return EXIT_OK

    def reload(self) -> bool:
        """Re-read the configuration; keep the old one if the new one is broken."""
        if self.config_path is None:
            return False
        self.notifier.reloading()
        new = reread_or_keep(self.config, self.config_path)
        if new is None:
            self.reloads["refused"] += 1
            self.notifier.ready()
            return False
        self.config = new
        self.ingestor.classifier.rules = Rules.of(new)
        self.runner.reconfigure(new)  # the writer applies it to the cards, in order with events
        self.reloads["ok"] += 1
        logger.info("configuration reloaded from %s", self.config_path)
        self.notifier.ready()
        return True

    def components(self, journal: Journal) -> health.Components:
        """What /healthz and /metrics describe (monitor/health.py), read now."""
        link, ingestor, notices = self.link, self.ingestor, self.notices
        return health.Components(
            hall=self.config.hall.id,
            version=__version__,
            connected=link.connected.is_set(),
            connects=link.connects,
            fatal=link.fatal,
            session_problems=link.problems(),
            link_samples=link.metrics(),
            ingest=ingestor.health,
            queue=ingestor.queue.qsize(),
            counters=journal.counters,
            reloads=self.reloads,
            web_samples=self.web.metrics(),
            notice_problems=notices.problems() if notices else (),
            notice_samples=notices.metrics() if notices else (),
            jobs=self.jobs.health(),
        )
