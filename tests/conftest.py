import os
import shutil

import pytest

pytest_plugins = ["django_push.testing"]

SERVICES = os.environ.get("DJANGO_PUSH_TEST_SERVICES") == "1"

collect_ignore_glob: list[str] = []
if not SERVICES:
    # PostgreSQL + Redis + Celery worker tests: run by `DJANGO_PUSH_TEST_SERVICES=1 make test` (CI does).
    collect_ignore_glob.append("integration/*")
if not shutil.which("chromium") and not os.environ.get("CI"):
    # Browser tests need Debian's chromium; `make test` installs it where it can (root + apt-get),
    # and CI always has it, so there these tests always run.
    print("django_push tests: /usr/bin/chromium not found; browser tests not collected")
    collect_ignore_glob.append("e2e/*")


@pytest.fixture(autouse=True)
def _clean_push_state():
    from django_push import testing

    testing.reset()
    yield
    testing.reset()
