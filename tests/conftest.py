"""Test-wide environment, set before any project module is imported (models read it at import)."""
import atexit
import os
import shutil
import tempfile

_STATE_DIR = tempfile.mkdtemp(prefix="automations-test-state-")
atexit.register(shutil.rmtree, _STATE_DIR, ignore_errors=True)

os.environ.update({
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    # In-process moto with recent botocore misroutes some calls without this.
    "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
    "AUTH_MODE": "local",
    "LOCAL_JWT_SECRET": "test-only-secret-" + "x" * 32,
    "TABLE_PREFIX": "test-",
    "PUBLIC_API_URL": "https://api.store.test",
    "POWERTOOLS_METRICS_DISABLED": "true",
    "POWERTOOLS_LOG_LEVEL": "WARNING",
    # The local stack's state (secrets, the stream checkpoint) goes to a scratch folder, not the checkout.
    "LOCAL_STATE_DIR": _STATE_DIR,
})
# The integration tier uses in-process moto; a real endpoint would bypass it.
for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "AWS_PROFILE"):
    os.environ.pop(name, None)


import subprocess  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def packaged(tmp_path_factory) -> Path:
    """`make package` once per test run, into a scratch folder (a developer's build/ is left alone): the
    folder holding template.json and deployment.zip. Under pytest-xdist the workers share that folder, and
    the first to take the lock builds it."""
    from filelock import FileLock

    # One folder per run: under xdist each worker's basetemp is inside the run's, else it is the run's.
    basetemp = tmp_path_factory.getbasetemp()
    shared = basetemp.parent if os.environ.get("PYTEST_XDIST_WORKER") else basetemp
    build, built = shared / "build", shared / "package.built"
    with FileLock(str(shared / "package.lock")):
        if not built.exists():
            result = subprocess.run(["make", "package", f"BUILD={build}"], cwd=ROOT, capture_output=True, text=True,
                                    timeout=900)
            assert result.returncode == 0, result.stdout + result.stderr
            built.write_text("built\n")
    return build / "package"

# Property tests are judged by what they find, never by how long an example took: on a shared machine, and
# in CI on every core at once, one example can take ten times another (no timed assertions, anywhere).
from hypothesis import settings as _hypothesis_settings  # noqa: E402

_hypothesis_settings.register_profile("shared-machine", deadline=None)
_hypothesis_settings.load_profile("shared-machine")
