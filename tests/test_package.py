"""The package itself: what a submodule may read from it while it is imported."""

from tests.conftest import run_python

# Record skmm.__version__ at the moment the first submodule (skmm._config) starts
# importing, then import the package as a user would.
_PROBE = """
import importlib.abc, sys
seen = {}
class Probe(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "skmm._config" and "skmm" in sys.modules:
            seen["version"] = getattr(sys.modules["skmm"], "__version__", None)
        return None
sys.meta_path.insert(0, Probe())
import skmm
print(seen["version"] == skmm.__version__, skmm.__version__)
"""


def test_version_is_defined_before_the_submodules_are_imported():
    result = run_python("-c", _PROBE)
    assert result.stdout.split()[0] == "True", result.stdout
