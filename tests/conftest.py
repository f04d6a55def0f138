import pytest

pytest_plugins = ["django_push.testing"]


@pytest.fixture(autouse=True)
def _clean_push_state():
    from django_push import testing

    testing.reset()
    yield
    testing.reset()
