"""Card rules, card lifecycle and sinks (built on the journal's replayed state)."""
