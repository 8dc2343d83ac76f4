import pytest

from binfarm.errors import InvalidInput
from binfarm.profiles.model import MakeProfileRef, check_profile_name


@pytest.mark.parametrize("name", ["desktop", "web-2", "db.large", "a"])
def test_good_profile_names(name: str) -> None:
    assert check_profile_name(name) == name


@pytest.mark.parametrize("name", ["", "Desktop", "../etc", "a/b", "-x", "x" * 65, "sp ace"])
def test_bad_profile_names(name: str) -> None:
    with pytest.raises(InvalidInput, match="invalid profile name"):
        check_profile_name(name)


def test_make_profile_ref_round_trips() -> None:
    ref = MakeProfileRef.parse("gentoo:default/linux/amd64/23.0")
    assert (ref.repo, ref.path) == ("gentoo", "default/linux/amd64/23.0")
    assert str(ref) == "gentoo:default/linux/amd64/23.0"


@pytest.mark.parametrize("text", ["gentoo", "gentoo:", "gentoo:/abs", "gentoo:a/../../etc",
                                  "gen too:x", "gentoo:a//b"])
def test_bad_make_profile_refs(text: str) -> None:
    with pytest.raises(InvalidInput):
        MakeProfileRef.parse(text)
