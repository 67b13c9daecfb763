"""What the tests share that is not a test: lab worlds, video rows, served apps, browser pages.

Kept out of the collected `test_*.py` files. Tests import `helpers.<module>`: pytest puts tests/ on
sys.path for the rootdir conftest (tests/ has no __init__.py); benchmarks that build the same worlds
add tests/ to sys.path themselves.
"""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
