"""``python -m common.study``: run every notebook of the study (common/study/notebooks.py)."""
import sys

from common.study.notebooks import main

sys.exit(main())
