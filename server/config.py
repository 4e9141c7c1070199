"""The config file: one TOML file validated by pydantic, with env vars for secrets and paths.

Relative paths resolve against the config file's folder, so a config can travel with the
folders it indexes. A wrong key is reported as one line naming it. A source whose folder or
file is missing is disabled with that reason (`OrgkbConfig.unavailable_sources`) while the
others keep serving.

The file is looked up in order: ``--config``, env ORGKB_CONFIG, ./orgkb.toml, then the per-user
config folder (`user_config_file`). Without a config file there is no index to serve: the CLI
says so in one line, and `orgkb serve` starts anyway and tells the client how to fix it.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from orgkb.connectors.base import SourceConfig, SourceUnavailable
from orgkb.connectors.registry import UnknownConnectorType, connector_type
from orgkb.server.errors import ConfigError
from orgkb.server.language.analysis import SUPPORTED_LANGUAGES

DEFAULT_CONFIG_NAME = "orgkb.toml"
DEFAULT_MODEL = "default"
APP_NAME = "orgkb"


def user_config_file() -> Path:
    """The per-user config file (``~/.config/orgkb/orgkb.toml`` on Linux, the platform's equivalent elsewhere)."""
    return platformdirs.user_config_path(APP_NAME, appauthor=False) / DEFAULT_CONFIG_NAME


def user_data_dir() -> Path:
    """The per-user folder for index data when no config names one (``~/.local/share/orgkb`` on Linux)."""
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def user_log_dir() -> Path:
    """Where `orgkb serve` writes its log file (``~/.local/state/orgkb/log`` on Linux)."""
    return platformdirs.user_log_path(APP_NAME, appauthor=False)


def no_config_message() -> str:
    """The one line said when no config file exists anywhere orgkb looks."""
    return (
        f"no config file (looked for --config, $ORGKB_CONFIG, ./{DEFAULT_CONFIG_NAME} and {user_config_file()}): "
        "run `orgkb init FOLDER` to index a folder, or `orgkb init --sample` to try the sample company"
    )


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EmbeddingConfig(_Section):
    """Which sentence-transformers model embeds chunks and queries."""

    model: str = Field(
        default=DEFAULT_MODEL,
        description='"default" (all-MiniLM-L6-v2, packaged, works offline), a Hugging Face name or a local path.',
    )
    device: str = Field(default="auto", description='"auto" (CUDA when present), "cpu", "cuda", "cuda:1", "mps".')
    batch_size: int = Field(default=32, ge=1, le=4096)
    query_prefix: str = Field(
        default="",
        description='Text put before queries ("query: "); default: the model\'s own "query" prompt, if it has one.',
    )
    document_prefix: str = Field(
        default="", description='Text put before chunks; default: the model\'s own "document"/"passage" prompt.'
    )
    languages: list[str] | None = Field(
        default=None,
        description='Languages the model was trained on (["en", "ro"], or ["*"] for any); default: known for the '
        "packaged and the common multilingual models, else assumed to cover every language.",
    )


class ChunkingConfig(_Section):
    """How documents are cut into chunks."""

    max_tokens: int | None = Field(
        default=None, ge=16, description="Chunk size in model tokens; default: the model's own limit."
    )


class StoreConfig(_Section):
    """Where vectors live: embedded Chroma in the data directory, or a Chroma server."""

    kind: Literal["persistent", "http"] = "persistent"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    ssl: bool = False
    headers: dict[str, str] = Field(default_factory=dict)
    token_env: str | None = Field(
        default=None, description="Env var holding a token sent as `Authorization: Bearer ...` to the server."
    )
    collection: str = Field(default="orgkb", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,60}[A-Za-z0-9]$")


class SearchConfig(_Section):
    """Defaults for search; every one can also be set per query."""

    default_limit: int = Field(default=8, ge=1, le=100)
    max_limit: int = Field(default=50, ge=1, le=1000)
    max_chunks_per_document: int = Field(default=2, ge=1, le=50, description="Most chunks one document contributes.")
    merge_neighbours: bool = Field(default=True, description="Join adjacent chunks of one section into one passage.")
    min_score: float | None = Field(
        default=None, description="Hits scoring below this are dropped (cosine, BM25 or fused score, by mode)."
    )
    min_relevance: float = Field(
        default=0.05, ge=0.0, le=1.0,
        description="Relevance floor (calibrated, 0-1): hits below it are dropped; when none reaches it the result "
        "says nothing relevant was found and shows at most `weak_candidates` hits, marked weak.",
    )
    # 0.05: SciFact's base rate of a relevant document among a query's first 20 hits, i.e. a hit
    # must be likelier than an average candidate to answer.
    weak_candidates: int = Field(default=2, ge=0, le=10, description="Weak hits shown when nothing reaches the floor.")
    max_tokens: int = Field(
        default=1200, ge=100, le=100_000,
        description="Default token budget of a search result's passages (about 4 characters a token).",
    )
    candidates: int = Field(default=200, ge=10, le=5000, description="Chunks each index contributes before fusion.")
    fusion: Literal["zscore", "rrf"] = Field(
        default="zscore", description="How hybrid mode combines the indexes: standardised scores, or reciprocal ranks."
    )
    semantic_weight: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Share of the vector index in hybrid fusion (the rest is BM25)."
    )
    foreign_semantic_weight: float = Field(
        default=0.2,
        ge=0.0,
        le=1.0,
        description="semantic_weight for a query in a language the embedding model was not trained on "
        "(embedding.languages): the lexical index, which stems that language, leads.",
    )
    rrf_k: float = Field(default=60.0, gt=0, description="The k of reciprocal rank fusion (fusion = \"rrf\").")
    rerank_model: str | None = Field(
        default=None, description="A sentence-transformers CrossEncoder (local folder or cached name); off when unset."
    )
    rerank_candidates: int = Field(default=30, ge=1, le=500, description="Passages the reranker rescores per query.")
    rerank_device: str = Field(default="auto", description='"auto" (CUDA when present), "cpu", "cuda", "mps".')


LOOPBACK_ORIGINS = [
    "http://127.0.0.1", "http://127.0.0.1:*", "http://localhost", "http://localhost:*", "http://[::1]", "http://[::1]:*",
]


class LiveSyncConfig(_Section):
    """Keeping the index current while `orgkb serve` runs."""

    enabled: bool = Field(default=True, description="Sync in the background while serving (watch folders, poll remotes).")
    watch: bool = Field(default=True, description="Watch local folders (files sources, local wiki exports) for changes.")
    catch_up: bool = Field(default=True, description="Sync every source once in the background at start.")
    debounce_seconds: float = Field(
        default=1.0, gt=0, le=60, description="Quiet time after the last change in a source before it is re-indexed."
    )
    max_delay_seconds: float = Field(
        default=10.0, gt=0, le=600, description="A source that keeps changing is still re-indexed at least this often."
    )
    retry_seconds: float = Field(
        default=30.0, gt=0, le=3600, description="Wait before retrying a sync that failed or found the index locked."
    )


class HttpTokenConfig(_Section):
    """A bearer token for the HTTP transport, optionally limited to some sources."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description="A label for logs and sessions, never the token.")
    token_env: str = Field(description="Environment variable holding the token (never put a token in the config).")
    sources: list[str] | None = Field(default=None, description="Sources this token may see; all when absent.")
    user: str | None = Field(
        default=None, min_length=1, description="The person or service this token stands for; per-document permissions apply when set."
    )
    groups: list[str] = Field(default_factory=list, description="The groups of `user` (needs `user`).")
    admin: bool = Field(default=False, description="Sees every document of its sources, whatever its permissions (needs `user`).")

    @model_validator(mode="after")
    def _identity_needs_user(self) -> HttpTokenConfig:
        if self.user is None and (self.groups or self.admin):
            raise ValueError(f"server.http.tokens ({self.name}): `groups` and `admin` need a `user`")
        return self


class HttpConfig(_Section):
    """The Streamable HTTP transport (`orgkb serve --transport http`)."""

    host: str = Field(default="127.0.0.1", description="Address to bind; anything but loopback requires a token.")
    port: int = Field(default=8765, ge=0, le=65535, description="0 picks a free port (printed at start).")
    path: str = Field(default="/mcp", pattern=r"^/[A-Za-z0-9/_.-]*$")
    token_env: str = Field(
        default="ORGKB_HTTP_TOKEN", description="Environment variable holding the full-access bearer token."
    )
    tokens: list[HttpTokenConfig] = Field(default_factory=list, description="More tokens, each limited to some sources.")
    allowed_origins: list[str] = Field(
        default_factory=lambda: list(LOOPBACK_ORIGINS),
        description='Browser origins allowed to call the server ("http://host:*" allows any port).',
    )
    allowed_hosts: list[str] | None = Field(
        default=None,
        description='Host headers accepted ("name:*" allows any port); default: loopback names when bound to loopback.',
    )

    @model_validator(mode="after")
    def _unique_token_names(self) -> HttpConfig:
        names = [t.name for t in self.tokens]
        if len(set(names)) != len(names):
            raise ValueError("server.http.tokens names must be unique")
        return self


# Symmetric (HS*) algorithms would let anyone holding the shared secret mint tokens, and they
# cannot come from a provider's public JWKS; "none" is no signature at all.
ASYMMETRIC_ALGORITHMS = {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}


class AuthConfig(_Section):
    """OAuth 2.1 bearer tokens from the organisation's OpenID Connect provider (HTTP transport).

    Off while `issuer` is unset. When on, a request carries a JWT access token issued by
    `issuer` for `audience` (this server's URL, its RFC 8707 resource indicator); the token's
    claims name the user and groups, and per-document permissions follow them.
    """

    issuer: str | None = Field(default=None, description="The provider's issuer URL, exactly as in its tokens' `iss`.")
    audience: str | None = Field(
        default=None, description="This server's public URL (e.g. https://kb.example.org/mcp): tokens' `aud`, and the protected resource."
    )
    discovery_url: str | None = Field(
        default=None, description="The provider's OpenID configuration; default: issuer + /.well-known/openid-configuration."
    )
    jwks_url: str | None = Field(default=None, description="The provider's signing keys; default: `jwks_uri` of the discovery document.")
    algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"], min_length=1, description="Accepted JWS algorithms.")
    user_claim: str = Field(default="sub", min_length=1, description='The claim naming the user ("preferred_username", "email", "upn", ...).')
    groups_claim: str = Field(default="groups", min_length=1, description="The claim listing the user's groups (absent: no groups).")
    admin_groups: list[str] = Field(default_factory=list, description="Members of these groups see every document of their sources.")
    required_scopes: list[str] = Field(default_factory=list, description="Scopes every token must carry.")
    leeway_seconds: int = Field(default=30, ge=0, le=300, description="Clock skew allowed when checking `exp` and `nbf`.")
    jwks_refresh_seconds: int = Field(
        default=300, ge=1, le=86400, description="Keys are fetched again after this long, or for an unknown key id (at most every 10 s)."
    )

    @property
    def enabled(self) -> bool:
        """True when OAuth bearer tokens are accepted."""
        return self.issuer is not None

    @field_validator("algorithms")
    @classmethod
    def _asymmetric_only(cls, value: list[str]) -> list[str]:
        unsupported = sorted(set(value) - ASYMMETRIC_ALGORITHMS)
        if unsupported:
            raise ValueError(f"unsupported algorithm(s) {', '.join(unsupported)}; use of: {', '.join(sorted(ASYMMETRIC_ALGORITHMS))}")
        return value

    @model_validator(mode="after")
    def _complete(self) -> AuthConfig:
        if self.issuer is None:
            return self
        if not self.audience:
            raise ValueError("server.auth: `audience` (this server's public URL) is required with `issuer`")
        for key in ("issuer", "audience", "discovery_url", "jwks_url"):
            value = getattr(self, key)
            if value is not None and not value.startswith(("https://", "http://")):
                raise ValueError(f"server.auth.{key}: must be an http(s) URL, got {value!r}")
        return self


class LocalPrincipalConfig(_Section):
    """Who the local user (stdio, in-process) is, for per-document permissions."""

    user: str = Field(min_length=1)
    groups: list[str] = Field(default_factory=list)
    admin: bool = False


class ServerConfig(_Section):
    """The MCP server's behaviour."""

    read_only: bool = Field(default=False, description="Leave out tools that change the index (reindex).")
    name: str = "orgkb"
    instructions: str | None = Field(default=None, description="Replaces the default server instructions.")
    tool_descriptions: dict[str, str] = Field(
        default_factory=dict, description="Replace a tool's description by tool name, to tune how models use it."
    )
    page_size: int = Field(default=100, ge=1, le=1000, description="Documents per resources/list page.")
    live: LiveSyncConfig = Field(default_factory=LiveSyncConfig)
    http: HttpConfig = Field(default_factory=HttpConfig)
    auth: AuthConfig = Field(default_factory=AuthConfig)
    principal: LocalPrincipalConfig | None = Field(
        default=None, description="The principal of stdio clients; default: the local user sees everything."
    )


class UnavailableSource(BaseModel):
    """A configured source that is disabled because what it names is not there (see `SourceUnavailable`)."""

    name: str
    type: str
    reason: str


class OrgkbConfig(_Section):
    """The whole config file."""

    # Sources disabled at load time; not a config key (set by `load_config`).
    _unavailable: list[UnavailableSource] = PrivateAttr(default_factory=list)

    data_dir: Path = Field(default=Path(".orgkb"), validate_default=True, description="Index data; env ORGKB_DATA_DIR overrides.")
    embedding: EmbeddingConfig = Field(default_factory=EmbeddingConfig)
    chunking: ChunkingConfig = Field(default_factory=ChunkingConfig)
    store: StoreConfig = Field(default_factory=StoreConfig)
    search: SearchConfig = Field(default_factory=SearchConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
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
        return [item if isinstance(item, SourceConfig) else _source_model(item).model_validate(item, context=info.context) for item in value]

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


def _source_model(item: Any) -> type[SourceConfig]:
    if not isinstance(item, dict) or "type" not in item:
        raise ValueError("each [[sources]] entry needs a `type`")
    try:
        return connector_type(str(item["type"])).config_model
    except UnknownConnectorType as exc:
        raise ValueError(str(exc)) from None


def _validate_source_entries(raw: Any, context: dict[str, Any], label: str, data: dict[str, Any]) -> list[SourceConfig]:
    """Validate each [[sources]] entry by its type's model, reporting errors with their position.

    An entry that fails only because what it names is missing (`SourceUnavailable`) is left out
    and recorded in ``context["unavailable"]``; any other problem is a `ConfigError`.
    """
    if not isinstance(raw, list):
        raise ConfigError(f"{label}: `sources` must be a list of [[sources]] tables")
    parsed: list[SourceConfig] = []
    lines: list[str] = []
    for index, item in enumerate(raw):
        try:
            model = _source_model(item)
        except ValueError as exc:
            lines.append(f"{label}: {_describe_location(['sources', index], data)}: {exc}")
            continue
        try:
            parsed.append(model.model_validate(item, context=context))
        except ValidationError as exc:
            reasons = _unavailable_reasons(exc)
            if reasons and isinstance(item.get("name"), str):
                context.setdefault("unavailable", []).append(
                    UnavailableSource(name=item["name"], type=str(item["type"]), reason="; ".join(reasons))
                )
            else:
                lines.append(format_validation_error(exc, label, data, prefix=["sources", index]))
    if lines:
        raise ConfigError("\n".join(lines))
    return parsed


def _unavailable_reasons(exc: ValidationError) -> list[str]:
    """The messages of ``exc`` when every error in it is a `SourceUnavailable`; else empty."""
    reasons = []
    for error in exc.errors():
        cause = (error.get("ctx") or {}).get("error")
        if not isinstance(cause, SourceUnavailable):
            return []
        reasons.append(str(cause))
    return reasons


def find_config_path(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The config file to use: ``--config``, env ORGKB_CONFIG, ./orgkb.toml, the per-user file; None if none."""
    if explicit:
        return Path(explicit).expanduser().resolve()
    env = os.environ.get("ORGKB_CONFIG")
    if env:
        return Path(env).expanduser().resolve()
    for candidate in (Path.cwd() / DEFAULT_CONFIG_NAME, user_config_file()):
        if candidate.is_file():
            return candidate.resolve()
    return None


def empty_config() -> OrgkbConfig:
    """A config with no sources and the per-user data folder (what `serve` runs on when the config is unusable)."""
    return _build(data={}, base_dir=user_data_dir(), label="(no config file)")


def load_config(path: str | os.PathLike[str] | None = None, *, required: bool = True) -> OrgkbConfig:
    """Read, validate and resolve the config; raise `ConfigError` with one readable line per problem.

    With no config file anywhere orgkb looks, ``required`` makes that a `ConfigError` too;
    otherwise the result is `empty_config()` (for commands that need no sources).
    """
    config_path = find_config_path(path)
    if config_path is None:
        if required:
            raise ConfigError(no_config_message())
        return empty_config()
    else:
        label = str(config_path)
        try:
            data = tomllib.loads(config_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {config_path}") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_path}: {exc}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_path}: invalid TOML: {exc}") from None
        base_dir = config_path.parent
    return _build(data, base_dir, label)


def _build(data: dict[str, Any], base_dir: Path, label: str) -> OrgkbConfig:
    env_data_dir = os.environ.get("ORGKB_DATA_DIR")
    if env_data_dir:
        data["data_dir"] = str(Path(env_data_dir).expanduser().resolve())
    elif label == "(no config file)":
        # Never the working directory a client happens to start in (Claude Desktop starts in /).
        data["data_dir"] = str(user_data_dir())
    context: dict[str, Any] = {"base_dir": base_dir}
    if "sources" in data:
        data = {**data, "sources": _validate_source_entries(data["sources"], context, label, data)}
    try:
        config = OrgkbConfig.model_validate(data, context=context)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(exc, label, data)) from None
    config._unavailable = list(context.get("unavailable", []))
    return config


def format_validation_error(
    exc: ValidationError, label: str, data: dict[str, Any], prefix: list[Any] | None = None
) -> str:
    """One line per problem: ``file: sources[0] (handbook).paths: folder not found: /x``.

    A misspelt required key is one problem, not two: ``pathz: unknown key (did you mean paths?)``
    stands for both the unknown key and the missing one.
    """
    errors = exc.errors()
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    guesses: dict[tuple[Any, ...], str] = {}  # unknown key's location -> the missing key it stands for
    for error in errors:
        if error["type"] == "extra_forbidden":
            parent, key = tuple(error["loc"][:-1]), str(error["loc"][-1])
            siblings = [str(m[-1]) for m in missing if m[:-1] == parent]
            guess = difflib.get_close_matches(key, siblings, n=1)
            if guess:
                guesses[tuple(error["loc"])] = guess[0]
    explained = {(*loc[:-1], name) for loc, name in guesses.items()}
    lines = []
    for error in errors:
        if error["type"] == "missing" and tuple(error["loc"]) in explained:
            continue
        loc = [*(prefix or []), *error["loc"]]
        where = _describe_location(loc, data)
        message = error["msg"]
        if error["type"] == "extra_forbidden":
            message = "unknown key"
            if tuple(error["loc"]) in guesses:
                message += f" (did you mean {guesses[tuple(error['loc'])]}?)"
        message = message.removeprefix("Value error, ")
        lines.append(f"{label}: {where}: {message}" if where else f"{label}: {message}")
    return "\n".join(lines)


def _describe_location(loc: list[Any], data: dict[str, Any]) -> str:
    parts: list[str] = []
    node: Any = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node):
                node = node[item]
                if isinstance(node, dict) and "name" in node:
                    label += f" ({node['name']})"
            parts.append(label)
        else:
            # pydantic inserts the tagged model's name into locations; those are not keys.
            if isinstance(node, dict) and item not in node and parts and str(item)[:1].isupper():
                continue
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts)
