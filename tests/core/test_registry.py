import pytest

from robopolicy.core import Policy, get_policy_class, register_policy
from tests.tiny_policy import TinyPolicy


def test_registered_family_is_found_by_name():
    assert get_policy_class("tiny_test") is TinyPolicy
    assert TinyPolicy.family == "tiny_test"


def test_unknown_family_lists_the_known_ones():
    with pytest.raises(KeyError, match="unknown policy family 'nope'.*tiny_test"):
        get_policy_class("nope")


def test_name_clash_between_different_classes_is_refused():
    with pytest.raises(ValueError, match="already registered"):

        @register_policy("tiny_test")
        class Other(Policy):  # noqa: F811
            pass


def test_only_policy_subclasses_register():
    with pytest.raises(TypeError, match="Policy subclass"):
        register_policy("bad")(dict)
