"""UAI (Unité Administrative Immatriculée, ex-RNE): 7 digits and a check letter.

The letter is the remainder of the 7-digit number divided by 23, read in an alphabet without
I, O and Q (so it cannot be mistaken for a digit).
"""

from __future__ import annotations

import re

_ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ"
_SHAPE = re.compile(r"^\d{7}[A-Z]$")


def check_letter(digits: str) -> str:
    """The check letter for 7 digits."""
    return _ALPHABET[int(digits) % 23]


def uai_problem(code: str) -> str | None:
    """Why `code` is not a valid UAI, or None when it is."""
    if not _SHAPE.match(code):
        return f"{code!r} is not 7 digits followed by an upper-case letter (e.g. 0921234X)"
    expected = check_letter(code[:7])
    if code[7] != expected:
        return f"{code!r} has check letter {code[7]}, expected {expected}"
    return None


def make_uai(number: int) -> str:
    """A valid UAI for a 7-digit number (used by the generator and in tests)."""
    digits = f"{number:07d}"
    return digits + check_letter(digits)
