"""mapsrv's benchmarks (``python -m tests.bench.run``; ``tox -e bench``)."""

import sys
from pathlib import Path

# The shared test support is the top-level package ``support`` in tests/, as pytest imports it
# (it puts tests/ on sys.path); run as ``python -m tests.bench.run`` nothing else would.
_TESTS = str(Path(__file__).resolve().parent.parent)
if _TESTS not in sys.path:
    sys.path.append(_TESTS)
