"""The database: SQLAlchemy tables, the engine (SQLite or PostgreSQL), Alembic migrations."""
