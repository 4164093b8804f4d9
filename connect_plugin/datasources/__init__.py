"""Registry of datasource types. Only types that work are registered: a type that is
not here is not offered anywhere."""

from __future__ import annotations

from ..errors import ValidationError
from .base import DatasourceType
from .rest import RestDatasource

DATASOURCE_TYPES: dict[str, type[DatasourceType]] = {cls.type: cls for cls in (RestDatasource,)}


def get_type(name: str) -> type[DatasourceType]:
    try:
        return DATASOURCE_TYPES[name]
    except (KeyError, TypeError):
        raise ValidationError("The datasource type is not valid.",
                              {"type": f"Unknown datasource type {name!r}. Choose one of: "
                                       f"{', '.join(DATASOURCE_TYPES)}."}) from None


__all__ = ["DATASOURCE_TYPES", "DatasourceType", "RestDatasource", "get_type"]
