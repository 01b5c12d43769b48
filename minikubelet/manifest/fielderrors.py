"""Field errors and name formats in the API server's exact wording.

Owns `apimachinery/pkg/util/validation/field` (`<path>: Invalid value: "x": detail`) and the
format checks of `apimachinery/pkg/util/validation` and `api/validate/content` (DNS labels and
subdomains, qualified names, label values, port names, env var names, HTTP header names), each
returning the list of upstream messages. Pure string work.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from minikubelet.core.gotext import quote as go_quote


def show(value: Any) -> str:
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    return "null" if value is None else str(value)


def required(path: str, detail: str = "") -> str:
    return f"{path}: Required value" + (f": {detail}" if detail else "")


def invalid(path: str, value: Any, detail: str) -> str:
    return f"{path}: Invalid value: {show(value)}: {detail}"


def forbidden(path: str, detail: str) -> str:
    return f"{path}: Forbidden: {detail}"


def duplicate(path: str, value: Any) -> str:
    return f"{path}: Duplicate value: {show(value)}"


def not_found(path: str, value: Any) -> str:
    return f"{path}: Not found: {show(value)}"


def not_supported(path: str, value: Any, supported: Iterable[str]) -> str:
    values = ", ".join(go_quote(item) for item in supported)
    return f"{path}: Unsupported value: {show(value)}: supported values: {values}"


def too_long(path: str, limit: int) -> str:
    return f"{path}: Too long: must have at most {limit} bytes"


def invalid_each(path: str, value: Any, messages: Iterable[str]) -> list[str]:
    return [invalid(path, value, message) for message in messages]


def regex_error(message: str, regex: str, *examples: str) -> str:
    """`validation.RegexError`, double space and all."""
    if not examples:
        return f"{message} (regex used for validation is '{regex}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{regex}')"


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def range_error(low: int, high: int) -> str:
    return f"must be between {low} and {high}, inclusive"


_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + "(\\." + _LABEL + ")*"
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' "
    "or '.', and must start and end with an alphanumeric character"
)
_KEY = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_VALUE = "(" + _KEY + ")?"
_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)
_ENV = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_ENV_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', "
    "'-', or '.', and must not start with a digit"
)
_HEADER = "[-A-Za-z0-9]+"
_CONFIG_KEY = "[-._a-zA-Z0-9]+"


def _full(regex: str, value: str) -> bool:
    return re.fullmatch(regex, value) is not None


def dns1123_label(value: str) -> list[str]:
    errors = [max_len_error(63)] if len(value) > 63 else []
    if not _full(_LABEL, value):
        if _full(_SUBDOMAIN, value):
            errors.append("must not contain dots")
        else:
            errors.append(regex_error(_LABEL_MSG, _LABEL, "my-name", "123-abc"))
    return errors


def dns1123_subdomain(value: str) -> list[str]:
    errors = [max_len_error(253)] if len(value) > 253 else []
    if not _full(_SUBDOMAIN, value):
        errors.append(regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN, "example.com"))
    return errors


def qualified_name(value: str) -> list[str]:
    """`IsQualifiedName` / `IsLabelKey`: an optional DNS subdomain prefix, `/`, a name."""
    parts = value.split("/")
    if len(parts) > 2:
        key_error = regex_error(_KEY_MSG, _KEY, "MyName", "my.name", "123-abc")
        return [
            f"a valid label key {key_error} with an optional DNS subdomain prefix and '/' "
            "(e.g. 'example.com/MyName')"
        ]
    errors = []
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            errors.append("prefix part must be non-empty")
        else:
            errors += ["prefix part " + msg for msg in dns1123_subdomain(prefix)]
    name = parts[-1]
    if not name:
        errors.append("name part must be non-empty")
    elif len(name) > 63:
        errors.append("name part " + max_len_error(63))
    if not _full(_KEY, name):
        errors.append("name part " + regex_error(_KEY_MSG, _KEY, "MyName", "my.name", "123-abc"))
    return errors


def label_value(value: str) -> list[str]:
    errors = [max_len_error(63)] if len(value) > 63 else []
    if not _full(_VALUE, value):
        errors.append(regex_error(_VALUE_MSG, _VALUE, "MyValue", "my_value", "12345"))
    return errors


def port_name(value: str) -> list[str]:
    """`IsValidPortName`: an IANA_SVC_NAME."""
    errors = [max_len_error(15)] if len(value) > 15 else []
    if not _full("[-a-z0-9]+", value):
        errors.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", value):
        errors.append("must contain at least one letter (a-z)")
    if "--" in value:
        errors.append("must not contain consecutive hyphens")
    if value.startswith("-") or value.endswith("-"):
        errors.append("must not begin or end with a hyphen")
    return errors


def port_number(value: int) -> list[str]:
    return [] if 1 <= value <= 65535 else [range_error(1, 65535)]


def env_var_name(value: str) -> list[str]:
    errors = []
    if not _full(_ENV, value):
        errors.append(regex_error(_ENV_MSG, _ENV, "my.env-name", "MY_ENV.NAME", "MyEnvName1"))
    return errors + _chdir_prefix(value)


def config_map_key(value: str) -> list[str]:
    errors = [max_len_error(253)] if len(value) > 253 else []
    if not _full(_CONFIG_KEY, value):
        message = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
        errors.append(regex_error(message, _CONFIG_KEY, "key.name", "KEY_NAME", "key-name"))
    return errors + _chdir_prefix(value)


def http_header_name(value: str) -> list[str]:
    if _full(_HEADER, value):
        return []
    message = "a valid HTTP header must consist of alphanumeric characters or '-'"
    return [regex_error(message, _HEADER, "X-Header-Name")]


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    return ["must not start with '..'"] if value.startswith("..") else []
