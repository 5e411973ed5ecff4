"""Finding the schemas a file should be checked against, and getting them offline.

Order: schemas the caller names; else the file's ``<?xml-model?>`` processing instructions
and ``xsi:schemaLocation``/``xsi:noNamespaceSchemaLocation``; else the project
configuration (``[tool.teikit]`` in ``pyproject.toml`` or a ``.teikit.toml``, found by
walking up from the file). Schemas named by URL resolve through XML catalogs and a local
cache; the network is used only when allowed (:mod:`teikit.schemas.resolve`).
"""

from __future__ import annotations

from teikit.schemas.catalog import Catalog
from teikit.schemas.config import (
    ERROR_ONLY_CODES,
    KNOWN_CODES,
    ProjectConfig,
    apply_severity,
    find_config,
    is_ignored,
    load_config,
    match_pattern,
)
from teikit.schemas.refs import (
    SCHEMATYPENS,
    SchemaRef,
    document_refs,
    xml_model_refs,
    xsi_refs,
)
from teikit.schemas.resolve import (
    ResolveOptions,
    SchemaUnavailable,
    default_cache_dir,
    default_options,
    fetch_schema,
    language_of_location,
    prepare_ref,
    prepare_schema,
    resolve_schema,
    set_default_options,
)

__all__ = [
    "ERROR_ONLY_CODES",
    "KNOWN_CODES",
    "SCHEMATYPENS",
    "Catalog",
    "ProjectConfig",
    "ResolveOptions",
    "SchemaRef",
    "SchemaUnavailable",
    "apply_severity",
    "default_cache_dir",
    "default_options",
    "document_refs",
    "fetch_schema",
    "find_config",
    "is_ignored",
    "language_of_location",
    "load_config",
    "match_pattern",
    "prepare_ref",
    "prepare_schema",
    "resolve_schema",
    "set_default_options",
    "xml_model_refs",
    "xsi_refs",
]
