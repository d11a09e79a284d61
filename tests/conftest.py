import pytest
from rest_framework.test import APIClient

from tests.fixtures import PASSWORD


@pytest.fixture
def user(make_user):
    return make_user("alice")


@pytest.fixture
def api():
    return APIClient()


@pytest.fixture
def tokens(api, user):
    response = api.post("/api/v1/auth/token/", {"username": "alice", "password": PASSWORD}, format="json")
    assert response.status_code == 200
    return response.json()
