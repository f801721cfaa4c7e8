"""faceveil studio: the REST API (``/api/v1``), the web UI, the database and the job worker.

Start it with ``faceveil serve``; build the app in code with :func:`faceveil.server.app.create_app`.
"""
