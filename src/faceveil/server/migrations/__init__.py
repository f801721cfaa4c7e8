"""Alembic migrations of the studio database (run by ``faceveil.server.db.upgrade``)."""
