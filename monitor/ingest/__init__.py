"""The link to the broker and the way in (I/O): MQTT link, ingestor, journal, replay,
snapshot, collector policy."""
