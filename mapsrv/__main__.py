import sys

from mapsrv.cli import main

sys.exit(main())
