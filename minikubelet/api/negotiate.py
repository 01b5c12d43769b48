"""Content negotiation as the API server does it: the Accept header's media types with their
`as`, `g` and `v` parameters pick the Table, PartialObjectMetadata or aggregated discovery
forms; JSON is what we always speak (protobuf is declined in favour of it when offered)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from minikubelet.api.status_errors import StatusError

JSON_TYPES = frozenset({"application/json", "application/*", "*/*"})


@dataclass(frozen=True, slots=True)
class MediaType:
    type: str
    params: dict[str, str]

    @property
    def as_(self) -> str:
        return self.params.get("as", "")


def parse_accept(header: str) -> list[MediaType]:
    types = []
    for part in header.split(","):
        kind, *params = (p.strip() for p in part.split(";"))
        if not kind:
            continue
        pairs = (p.partition("=") for p in params)
        types.append(MediaType(kind.lower(), {k.strip(): v.strip() for k, _, v in pairs}))
    return types or [MediaType("*/*", {})]


def accepted(request: web.Request) -> list[MediaType]:
    return parse_accept(request.headers.get("Accept", ""))


def pick(request: web.Request, supported_as: frozenset[str]) -> MediaType:
    """The first acceptable JSON media type whose `as` we serve ("" = the plain object)."""
    for media in accepted(request):
        if media.type in JSON_TYPES and media.as_ in supported_as:
            if media.as_ and media.params.get("g") not in (None, "meta.k8s.io"):
                continue
            return media
    raise StatusError(
        406,
        "NotAcceptable",
        "only the following media types are accepted: application/json, "
        "application/json;as=Table;v=v1;g=meta.k8s.io",
    )


def table_version(request: web.Request) -> str | None:
    """`meta.k8s.io/v1` (or v1beta1) when the client asked for a Table first, else None."""
    media = pick(request, frozenset({"", "Table"}))
    if media.as_ != "Table":
        return None
    return "meta.k8s.io/" + media.params.get("v", "v1")
