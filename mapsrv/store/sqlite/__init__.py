"""Maps kept on disk by this process, in one SQLite file (``sqlite:///path/maps.db``, the
default): ``store`` is the store the hub talks to (each call in a worker thread), ``db`` its
tables and the SQL on them."""

from mapsrv.store.sqlite.store import (
    SqliteStore,
    StoreOpenError,
    default_path,
    open_reader,
    sqlite_path,
)

__all__ = ["SqliteStore", "StoreOpenError", "default_path", "open_reader", "sqlite_path"]
