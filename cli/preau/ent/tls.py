"""The portal's TLS certificate: does the one in place still match what the inventory asks?

`community.crypto.x509_certificate` makes a new certificate when the name (subject, SAN) or
the key changes, but it ignores the validity period unless it compares timestamps, and with a
relative `not_after` (`+825d`) that comparison differs on every run. So the role reads the
certificate in place (`x509_certificate_info`) and forces a new one only when it was made for
another number of days. Pure functions; the role's filter plugin is a shim onto them.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# ASN.1 GeneralizedTime, as x509_certificate_info reports not_before / not_after.
_ASN1_TIME = "%Y%m%d%H%M%SZ"
_DAY = 86400


class CertificateInfoError(ValueError):
    """The certificate read from the host does not say when it is valid."""


def _time(info: Mapping[str, Any], field: str) -> datetime:
    value = info.get(field)
    if not isinstance(value, str):
        raise CertificateInfoError(f"certificate info: {field}: missing (got {value!r})")
    try:
        return datetime.strptime(value, _ASN1_TIME).replace(tzinfo=UTC)
    except ValueError:
        raise CertificateInfoError(
            f"certificate info: {field}: {value!r} is not an ASN.1 time (YYYYMMDDHHMMSSZ)"
        ) from None


def validity_days(info: Mapping[str, Any]) -> int:
    """Days between not_before and not_after, to the nearest day (the module counts in seconds)."""
    span = (_time(info, "not_after") - _time(info, "not_before")).total_seconds()
    return round(span / _DAY)


def validity_changed(info: Mapping[str, Any] | None, days: int) -> bool:
    """True when a certificate is in place and was made for another validity than `days`.

    `info` is the registered result of `x509_certificate_info`; a skipped one (no certificate
    yet) is False: `x509_certificate` makes the first certificate without being forced.
    """
    if days < 1:
        raise CertificateInfoError(f"validity: {days} days; a certificate needs 1 day or more")
    if not info or info.get("skipped"):
        return False
    if info.get("failed"):
        raise CertificateInfoError(f"certificate info: the read failed: {info.get('msg', '?')}")
    return validity_days(info) != days
