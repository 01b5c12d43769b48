"""Label selectors in a workload's validation (Deployment, ReplicaSet, ReplicationController):
apimachinery's unversionedvalidation.ValidateLabelSelector, metav1.LabelSelectorAsSelector's
own refusals, and the selector and label map as Go's %#v shows them in a field error
(`v1.LabelSelector{MatchLabels:map[string]string{"app":"web"}, MatchExpressions:...}`). Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from minikubelet.core.gotext import quote as go_quote
from minikubelet.manifest import fielderrors as fe
from minikubelet.manifest.validation import validate_labels

JSON = dict[str, Any]


class GoValue:
    """A value shown as Go shows it (`fielderrors.show` prints it with str)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def go_string_map(value: Mapping[str, str] | None) -> str:
    """`map[string]string{"app":"web"}` (`map[string]string(nil)` for none)."""
    if value is None:
        return "map[string]string(nil)"
    items = ", ".join(f"{go_quote(k)}:{go_quote(str(v))}" for k, v in sorted(value.items()))
    return "map[string]string{" + items + "}"


def go_label_selector(selector: Mapping[str, Any]) -> str:
    """`v1.LabelSelector{MatchLabels:map[string]string{...}, MatchExpressions:[]...}`."""
    exprs = selector.get("matchExpressions")
    if exprs is None:
        shown = "[]v1.LabelSelectorRequirement(nil)"
    else:
        items = []
        for e in exprs:
            values = e.get("values")
            vals = ("[]string(nil)" if values is None else
                    "[]string{" + ", ".join(go_quote(str(v)) for v in values) + "}")  # fmt: skip
            key, op = go_quote(str(e.get("key", ""))), go_quote(str(e.get("operator", "")))
            items.append(f"v1.LabelSelectorRequirement{{Key:{key}, Operator:{op}, Values:{vals}}}")
        shown = "[]v1.LabelSelectorRequirement{" + ", ".join(items) + "}"
    labels = go_string_map(selector.get("matchLabels"))
    return f"v1.LabelSelector{{MatchLabels:{labels}, MatchExpressions:{shown}}}"


def selector_errors(selector: Any, path: str) -> list[str]:
    """unversionedvalidation.ValidateLabelSelector."""
    errors = validate_labels(selector.get("matchLabels") or {}, f"{path}.matchLabels")
    for i, req in enumerate(selector.get("matchExpressions") or []):
        at = f"{path}.matchExpressions[{i}]"
        op, values = req.get("operator", ""), req.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                detail = "must be specified when `operator` is 'In' or 'NotIn'"
                errors.append(fe.required(f"{at}.values", detail))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errors.append(fe.forbidden(f"{at}.values", "may not be specified when "
                                           "`operator` is 'Exists' or 'DoesNotExist'"))  # fmt: skip
        else:
            errors.append(fe.invalid(f"{at}.operator", op, "not a valid selector operator"))
        key = str(req.get("key", ""))
        errors += fe.invalid_each(f"{at}.key", key, fe.qualified_name(key))
        for j, value in enumerate(values):
            errors += fe.invalid_each(f"{at}.values[{j}]", value, fe.label_value(str(value)))
    return errors


def selector_convertible(selector: JSON) -> bool:
    """metav1.LabelSelectorAsSelector fails on a bad operator or missing values."""
    for req in selector.get("matchExpressions") or []:
        op, values = req.get("operator", ""), req.get("values") or []
        if op in ("In", "NotIn") and not values:
            return False
        if op in ("Exists", "DoesNotExist") and values:
            return False
        if op not in ("In", "NotIn", "Exists", "DoesNotExist"):
            return False
    return True
