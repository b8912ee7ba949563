"""Ansible filters for the portal's certificate: a shim, the logic lives in preau.ent.tls."""

from __future__ import annotations

from typing import Any

from ansible.errors import AnsibleFilterError

try:
    from preau.ent.tls import CertificateInfoError, validity_changed
except ImportError as exc:  # pragma: no cover - depends on how Ansible was started
    raise ImportError(
        "the preau package is not importable: run Ansible from the project venv (.venv/bin)"
    ) from exc


def preau_x509_validity_changed(info: Any, days: Any) -> bool:
    """`{{ __cert_info | preau_x509_validity_changed(825) }}`: made for another validity?"""
    try:
        return validity_changed(info, int(days))
    except (CertificateInfoError, ValueError, TypeError) as exc:
        raise AnsibleFilterError(f"preau_x509_validity_changed: {exc}") from None


class FilterModule:
    def filters(self) -> dict[str, Any]:
        return {"preau_x509_validity_changed": preau_x509_validity_changed}
