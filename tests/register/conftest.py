"""Make ``register_helpers`` importable from the tests in this folder (importlib import mode)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
