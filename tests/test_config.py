"""Config loading: relative paths, env overrides, and one clear line per mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from orgkb.server.config import find_config_path, load_config, user_config_file
from orgkb.server.errors import ConfigError


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docs").mkdir()
    config_path = _write(tmp_path / "orgkb.toml", '[[sources]]\nname = "d"\ntype = "files"\npaths = ["docs"]\n')
    monkeypatch.chdir("/")
    config = load_config(config_path)
    assert config.sources[0].paths == [tmp_path / "docs"]  # type: ignore[attr-defined]
    assert config.data_dir == tmp_path / ".orgkb"


def test_env_overrides_config_path_and_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "docs").mkdir()
    config_path = _write(tmp_path / "custom.toml", '[[sources]]\nname = "d"\ntype = "files"\npaths = ["docs"]\n')
    monkeypatch.setenv("ORGKB_CONFIG", str(config_path))
    monkeypatch.setenv("ORGKB_DATA_DIR", str(tmp_path / "elsewhere"))
    config = load_config()
    assert config.sources[0].name == "d"
    assert config.data_dir == tmp_path / "elsewhere"


def test_unknown_key_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    config_path = _write(tmp_path / "orgkb.toml", '[[sources]]\nname = "hb"\ntype = "files"\npaths = ["docs"]\npathz = 1\n')
    with pytest.raises(ConfigError) as error:
        load_config(config_path)
    message = str(error.value)
    assert message.count("\n") == 0
    assert "sources[0] (hb).pathz: unknown key" in message


def test_a_missing_folder_disables_only_its_source_and_names_the_folder(tmp_path: Path) -> None:
    (tmp_path / "docs").mkdir()
    config_path = _write(
        tmp_path / "orgkb.toml",
        '[[sources]]\nname = "hb"\ntype = "files"\npaths = ["nope"]\n'
        '[[sources]]\nname = "ok"\ntype = "files"\npaths = ["docs"]\n',
    )
    config = load_config(config_path)
    assert [s.name for s in config.sources] == ["ok"]
    [disabled] = config.unavailable_sources
    assert disabled.name == "hb" and disabled.type == "files"
    assert disabled.reason == f"folder not found: {tmp_path / 'nope'}"
    with pytest.raises(ConfigError, match="source 'hb' is disabled: folder not found"):
        config.source("hb")


def test_a_missing_folder_with_a_wrong_key_is_still_a_config_error(tmp_path: Path) -> None:
    config_path = _write(tmp_path / "orgkb.toml", '[[sources]]\nname = "hb"\ntype = "files"\npaths = ["nope"]\npathz = 1\n')
    with pytest.raises(ConfigError, match=r"sources\[0\] \(hb\)\.pathz: unknown key"):
        load_config(config_path)


def test_lookup_order_ends_at_the_per_user_config_and_never_uses_the_working_directory_for_data(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ORGKB_CONFIG", raising=False)
    monkeypatch.delenv("ORGKB_DATA_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert find_config_path() is None
    with pytest.raises(ConfigError, match=r"no config file .*orgkb init FOLDER"):
        load_config()
    assert load_config(required=False).data_dir == tmp_path / "xdg-data" / "orgkb"
    assert not (work / ".orgkb").exists()

    (tmp_path / "docs").mkdir()
    user_file = user_config_file()
    assert user_file == tmp_path / "xdg-config" / "orgkb" / "orgkb.toml"
    user_file.parent.mkdir(parents=True)
    _write(user_file, f'[[sources]]\nname = "user"\ntype = "files"\npaths = ["{tmp_path / "docs"}"]\n')
    assert load_config().sources[0].name == "user"
    _write(work / "orgkb.toml", f'[[sources]]\nname = "here"\ntype = "files"\npaths = ["{tmp_path / "docs"}"]\n')
    assert load_config().sources[0].name == "here"
    monkeypatch.setenv("ORGKB_CONFIG", str(user_file))
    assert load_config().sources[0].name == "user"


def test_unknown_type_and_duplicate_names(tmp_path: Path) -> None:
    config_path = _write(tmp_path / "orgkb.toml", '[[sources]]\nname = "x"\ntype = "ftp"\n')
    with pytest.raises(ConfigError, match="unknown source type 'ftp'"):
        load_config(config_path)
    (tmp_path / "d").mkdir()
    twice = '[[sources]]\nname = "x"\ntype = "files"\npaths = ["d"]\n' * 2
    with pytest.raises(ConfigError, match="repeated: x"):
        load_config(_write(tmp_path / "two.toml", twice))


def test_top_level_typo_and_bad_toml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="embeding: unknown key"):
        load_config(_write(tmp_path / "a.toml", '[embeding]\nmodel = "x"\n'))
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(_write(tmp_path / "b.toml", "[[sources]\n"))
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.toml")


def test_a_misspelt_required_key_is_one_line_that_suggests_the_right_one(tmp_path: Path) -> None:
    config_path = _write(tmp_path / "orgkb.toml", '[[sources]]\nname = "hb"\ntype = "files"\npathz = ["docs"]\n')
    with pytest.raises(ConfigError) as error:
        load_config(config_path)
    assert str(error.value) == f"{config_path}: sources[0] (hb).pathz: unknown key (did you mean paths?)"


def test_a_source_language_orgkb_cannot_analyse_is_one_clear_line(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    source = '[[sources]]\nname = "ro"\ntype = "files"\npaths = ["d"]\nlanguage = "{}"\n'
    assert load_config(_write(tmp_path / "ok.toml", source.format("ro"))).sources[0].language == "ro"
    with pytest.raises(ConfigError) as error:
        load_config(_write(tmp_path / "xx.toml", source.format("xx")))
    assert error.value.args[0].count("\n") == 0
    assert "(ro).language: 'xx' has no stemmer" in str(error.value)
    with pytest.raises(ConfigError, match=r"language: String should match pattern"):
        load_config(_write(tmp_path / "long.toml", source.format("Romanian")))
