"""`$(VAR)` expansion exactly as Kubernetes does it (`third_party/forked/golang/expansion`).

`$(NAME)` is replaced by the variable's value when NAME is defined, and left as written when it
is not; `$$` is an escaped `$`; a `$` before anything else is kept. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping


def expand(text: str, env: Mapping[str, str]) -> str:
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch != "$" or i + 1 >= n:
            out.append(ch)
            i += 1
            continue
        nxt = text[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
        elif nxt == "(":
            end = text.find(")", i + 2)
            if end < 0:  # unterminated: kept as written
                out.append(text[i:])
                break
            name = text[i + 2 : end]
            if name and name in env:
                out.append(env[name])
            else:
                out.append(text[i : end + 1])
            i = end + 1
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def expand_all(items: tuple[str, ...], env: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(expand(item, env) for item in items)
