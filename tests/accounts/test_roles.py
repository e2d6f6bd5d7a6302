import pytest
from django.contrib.auth.models import Group

from tests.factories import make_user

pytestmark = pytest.mark.django_db


def test_role_groups_exist_after_migrate():
    assert set(Group.objects.values_list("name", flat=True)) >= {"viewer", "operator", "manager"}


@pytest.mark.parametrize(
    ("role", "operate", "apply"),
    [("viewer", False, False), ("operator", True, False), ("manager", True, True)],
)
def test_each_role_has_the_powers_of_the_ones_below(role, operate, apply):
    user = make_user(role=role)
    assert user.role == role
    assert (user.can_operate, user.can_apply) == (operate, apply)


def test_changing_a_role_replaces_the_old_one():
    user = make_user("dora", role="manager")
    user = make_user("dora", role="viewer")
    assert user.role == "viewer" and not user.can_operate


def test_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="Unknown role"):
        make_user(role="owner")
