# The live-server fixtures serve every app's tests, not only those under tests/.
from tests.conftest import csms, live_csms  # noqa: F401
