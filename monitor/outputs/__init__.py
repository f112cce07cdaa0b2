"""Where derived results go (I/O): the outbox, the time-series sinks, the local store,
publishing."""
