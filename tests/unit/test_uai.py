from hypothesis import given
from hypothesis import strategies as st

from preau.model.uai import check_letter, make_uai, uai_problem


def test_known_shape_errors():
    assert "7 digits" in uai_problem("092123A")
    assert "7 digits" in uai_problem("0921234a")
    assert "check letter" in uai_problem("0929001A")


@given(st.integers(min_value=0, max_value=9_999_999))
def test_made_codes_are_valid(n):
    assert uai_problem(make_uai(n)) is None


@given(st.integers(min_value=0, max_value=9_999_999), st.sampled_from("ABCDEFGHJKLMNPRSTUVWXYZ"))
def test_any_other_letter_is_refused(n, letter):
    digits = f"{n:07d}"
    code = digits + letter
    assert (uai_problem(code) is None) == (letter == check_letter(digits))
