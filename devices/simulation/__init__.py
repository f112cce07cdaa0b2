"""The hall simulator's pure parts: values (`model`), officers and devices (`people`), cases and
complaints (`cases`). `devices.simulator` puts them together and publishes."""
