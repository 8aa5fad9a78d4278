"""Database base: declarative base, engine and session factory, migrations."""
