"""An admission plugin's refusal: the API server's `admission.NewForbidden`, a 403
`Forbidden` worded `{resource} "{name}" is forbidden: {reason}` (apiserver:
pkg/admission/errors.go NewForbidden). Pure."""

from __future__ import annotations


class Forbidden(Exception):
    """A 403 from admission (LimitRanger, Priority, ResourceQuota)."""

    def __init__(self, resource: str, name: str, reason: str) -> None:
        super().__init__(f'{resource} "{name}" is forbidden: {reason}')
        self.resource, self.name, self.reason = resource, name, reason
