"""The web server and what it serves: API, console, display, auth, OpenAPI, static files (I/O)."""
