import os
import shutil

import pytest

pytest_plugins = ["django_push.testing"]

SERVICES = os.environ.get("DJANGO_PUSH_TEST_SERVICES") == "1"
BARE = os.environ.get("DJANGO_PUSH_TEST_BARE") == "1"

# Tests and extras (the one rule that leaves tests out for a missing dependency):
# a test module, conftest, fixture or test that needs an extra calls ``pytest.importorskip(<the
# extra's own module>)`` first: "rest_framework" (api), "google.auth" (fcm), "http_ece" (webpush),
# "celery" or "django_celery_beat" (celery). Nothing else is skipped for a missing import. So that
# this never hides a missing part, the session first checks the environment:
# * DJANGO_PUSH_TEST_BARE=1 (`tox -e bare`, the third CI run): the package is installed without
#   extras, with pytest, pytest-django and factory-boy only, and run with -m "not browser" (the
#   browser tests need Playwright). No extra may be importable, so the skipped tests are exactly
#   those that need one, and everything else proves the core alone.
# * otherwise every extra but "fast" (jh2, optional even in tests) must be installed: nothing can be
#   skipped for a missing extra in the full suite.
EXTRAS_THE_SUITE_NEEDS = ("apns", "fcm", "webpush", "api", "celery")

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


def pytest_sessionstart(session: pytest.Session) -> None:
    from django_push import extras

    if BARE:
        present = sorted(
            {
                distribution
                for name, modules in extras.EXTRAS.items()
                if name != "apns"  # PyJWT and cryptography are in the core
                for module, distribution in modules.items()
                if extras.importable(module)
            }
        )
        if present:
            raise pytest.UsageError(
                f"DJANGO_PUSH_TEST_BARE=1 runs the core without extras, but these are installed: "
                f"{', '.join(present)}. Use a fresh virtualenv (tox -e bare)."
            )
    else:
        absent = {name: extras.missing(name) for name in EXTRAS_THE_SUITE_NEEDS if extras.missing(name)}
        if absent:
            raise pytest.UsageError(
                "The test suite needs every extra (pip install -e '.[test]'); missing: "
                + "; ".join(f"[{name}] {', '.join(dists)}" for name, dists in absent.items())
                + ". DJANGO_PUSH_TEST_BARE=1 runs the core selection instead."
            )
