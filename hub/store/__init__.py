"""Durable state of the hub behind one interface: SQLite by default, PostgreSQL when shared."""
