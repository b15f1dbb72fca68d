"""The SQLite store: one file, one account."""

# The schema version this secmsg writes: the number of migrations in
# store/migrations.py (kept here so that opening a current store does not
# import sqlite-utils; migrations.py checks the two agree).
SCHEMA_VERSION = 7
