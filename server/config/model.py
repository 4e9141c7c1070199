"""The whole config file as one model (`OrgkbConfig`), each source validated by its connector's model."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from orgkb.connectors.base import SourceConfig
from orgkb.connectors.registry import UnknownConnectorType, connector_type
from orgkb.server.config.identity import IdentityConfig
from orgkb.server.config.sections import (
    ChunkingConfig,
    EmbeddingConfig,
    SearchConfig,
    Section,
    StoreConfig,
)
from orgkb.server.config.serving import ServerConfig
from orgkb.server.errors import ConfigError
from orgkb.server.language.analysis import SUPPORTED_LANGUAGES
from pydantic import (
    BaseModel,
    Field,
    PrivateAttr,
    ValidationInfo,
    field_validator,
    model_validator,
)


class UnavailableSource(BaseModel):
    """A configured source that is disabled because what it names is not there (see `SourceUnavailable`)."""

    name: str
    type: str
    reason: str


class OrgkbConfig(Section):
    """The whole config file."""

    # Sources disabled at load time; not a config key (set by `load_config`).
    _unavailable: list[UnavailableSource] = PrivateAttr(default_factory=list)

    data_dir: Path = Field(default=Path(".orgkb"), validate_default=True, description="Index data; env ORGKB_DATA_DIR overrides.")
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    identity: IdentityConfig = Field(default_factory=IdentityConfig)
    sources: list[SourceConfig] = Field(default_factory=list)

    @field_validator("data_dir", mode="after")
    @classmethod
    def _resolve_data_dir(cls, value: Path, info: ValidationInfo) -> Path:
        return SourceConfig.resolve_path(value, info)

    @field_validator("sources", mode="before")
    @classmethod
    def _validate_sources(cls, value: Any, info: ValidationInfo) -> list[SourceConfig]:
        # Each entry is validated by the model of its own `type`, so every connector owns its keys.
        if not isinstance(value, list):
            raise ValueError("`sources` must be a list of [[sources]] tables")
        return [item if isinstance(item, SourceConfig) else source_model(item).model_validate(item, context=info.context) for item in value]

    @model_validator(mode="after")
    def _unique_names(self) -> OrgkbConfig:
        names = [s.name for s in self.sources]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"source names must be unique; repeated: {', '.join(duplicates)}")
        return self

    @property
    def unavailable_sources(self) -> list[UnavailableSource]:
        """Sources disabled because their folder or file is missing, each with the reason."""
        return list(self._unavailable)

    @model_validator(mode="after")
    def _languages_supported(self) -> OrgkbConfig:
        for source in self.sources:
            if source.language is not None and source.language not in SUPPORTED_LANGUAGES:
                raise ValueError(
                    f"sources ({source.name}).language: {source.language!r} has no stemmer; use one of "
                    f"{', '.join(sorted(SUPPORTED_LANGUAGES))}, or leave it out to detect the language"
                )
        for language in self.embedding.languages or []:
            if language != "*" and not (len(language) == 2 and language.isalpha() and language.islower()):
                raise ValueError(f"embedding.languages: {language!r} is not a two-letter language code (or \"*\")")
        return self

    @model_validator(mode="after")
    def _token_sources_exist(self, info: ValidationInfo) -> OrgkbConfig:
        names = {s.name for s in self.sources} | {s.name for s in (info.context or {}).get("unavailable", [])}
        for token in self.server.http.tokens:
            unknown = sorted(set(token.sources or []) - names)
            if unknown:
                raise ValueError(f"server.http.tokens ({token.name}): unknown source(s): {', '.join(unknown)}")
        return self

    def source(self, name: str) -> SourceConfig:
        """The source called ``name``; `ConfigError` lists the configured names otherwise."""
        for source in self.sources:
            if source.name == name:
                return source
        for unavailable in self._unavailable:
            if unavailable.name == name:
                raise ConfigError(f"source {name!r} is disabled: {unavailable.reason}")
        known = ", ".join(s.name for s in self.sources) or "none"
        raise ConfigError(f"no source named {name!r} (configured: {known})")


def source_model(item: Any) -> type[SourceConfig]:
    if not isinstance(item, dict) or "type" not in item:
        raise ValueError("each [[sources]] entry needs a `type`")
    try:
        return connector_type(str(item["type"])).config_model
    except UnknownConnectorType as exc:
        raise ValueError(str(exc)) from None

