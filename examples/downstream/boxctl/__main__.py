import sys

from boxctl import main

sys.exit(main())
