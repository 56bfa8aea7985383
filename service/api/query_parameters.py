"""Unknown query parameters are refused (422), as unknown body fields are: a misspelt `?explian=true` would
otherwise be ignored without a word, and the OpenAPI document lists exactly the parameters each operation takes."""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.utils import get_flat_dependant
from fastapi.routing import APIRoute

from service.contract.errors import ApiError

# id(route) -> (route, its query parameter names); holding the route keeps its id from being reused.
_DECLARED: dict[int, tuple[APIRoute, frozenset[str]]] = {}


def _declared(route: APIRoute) -> frozenset[str]:
    entry = _DECLARED.get(id(route))
    if entry is None:
        names = frozenset(field.alias for field in get_flat_dependant(route.dependant).query_params)
        entry = _DECLARED[id(route)] = (route, names)
    return entry[1]


async def refuse_unknown_query_parameters(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not route.include_in_schema:
        return  # the page and its files: a browser may add what it likes
    declared = _declared(route)
    unknown = sorted({name for name in request.query_params if name not in declared})
    if unknown:
        takes = f"this endpoint takes {', '.join(sorted(declared))}" if declared else "this endpoint takes none"
        fields = [{"field": name, "message": f"is not a known query parameter ({takes}); remove it"}
                  for name in unknown]
        raise ApiError(422, "invalid_request", "; ".join(f"{f['field']}: {f['message']}" for f in fields), fields)
