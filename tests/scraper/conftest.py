"""Make this folder's helper modules (``_scrape_helpers``, ``_exposition_corpus``) importable.

pytest runs with ``--import-mode=importlib``, which does not put test folders on
``sys.path``; the helpers are plain modules beside the tests.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)
