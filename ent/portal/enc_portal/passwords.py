"""Password hashing: PBKDF2-SHA256 with a per-pupil salt.

1,000 iterations keeps a login at about a millisecond on a lab core: the capacity tests measure
the portal, not a password hash (a production ENT delegates login to its SSO anyway).
"""

from __future__ import annotations

import hashlib
import hmac
import os

ITERATIONS = 1000


def make(password: str, salt: bytes | None = None) -> tuple[bytes, bytes]:
    salt = salt or os.urandom(16)
    return salt, hashlib.pbkdf2_hmac("sha256", password.encode(), salt, ITERATIONS)


def check(password: str, salt: bytes, expected: bytes) -> bool:
    return hmac.compare_digest(make(password, bytes(salt))[1], bytes(expected))
