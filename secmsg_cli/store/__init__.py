"""The SQLite store: one file, one account."""
