"""Device adapters: camera agent, fingerprint-clock bridge, hall simulator."""
