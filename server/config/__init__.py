"""The config file: one TOML file validated by pydantic, with env vars for secrets and paths.

Relative paths resolve against the config file's folder, so a config can travel with the
folders it indexes. A wrong key is reported as one line naming it. A source whose folder or
file is missing is disabled with that reason (`OrgkbConfig.unavailable_sources`) while the
others keep serving.

The file is looked up in order: ``--config``, env ORGKB_CONFIG, ./orgkb.toml, then the per-user
config folder (`user_config_file`). Without a config file there is no index to serve: the CLI
says so in one line, and `orgkb serve` starts anyway and tells the client how to fix it.
"""

from orgkb.server.config.identity import IdentityConfig
from orgkb.server.config.loading import (
    empty_config,
    format_validation_error,
    load_config,
)
from orgkb.server.config.model import OrgkbConfig, UnavailableSource
from orgkb.server.config.paths import (
    APP_NAME,
    DEFAULT_CONFIG_NAME,
    find_config_path,
    no_config_message,
    user_config_file,
    user_data_dir,
    user_log_dir,
)
from orgkb.server.config.sections import (
    DEFAULT_MODEL,
    ChunkingConfig,
    EmbeddingConfig,
    SearchConfig,
    StoreConfig,
)
from orgkb.server.config.serving import (
    AuthConfig,
    HttpConfig,
    HttpTokenConfig,
    LiveSyncConfig,
    LocalPrincipalConfig,
    ServerConfig,
)

__all__ = [
    "APP_NAME", "DEFAULT_CONFIG_NAME", "DEFAULT_MODEL", "AuthConfig", "ChunkingConfig", "EmbeddingConfig",
    "HttpConfig", "HttpTokenConfig", "IdentityConfig", "LiveSyncConfig", "LocalPrincipalConfig", "OrgkbConfig", "SearchConfig",
    "ServerConfig", "StoreConfig", "UnavailableSource", "empty_config", "find_config_path", "format_validation_error",
    "load_config", "no_config_message", "user_config_file", "user_data_dir", "user_log_dir",
]
