import sys

from topoml.cli import main

sys.exit(main())
