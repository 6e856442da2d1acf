"""config.toml and providers.toml written through tomlkit (issue 13, item 5): the user's comments stay,
any string reloads equal (a value with \\r used to make a file the next start rejected), lists of
tables work, a write that fails half-way leaves the old file, and custom endpoints are added, changed
and removed through app.config's API."""

from __future__ import annotations

import os
import stat

import pytest

from app import fsutil
from app.config import (
    ConfigError,
    add_custom_endpoint,
    load_settings,
    remove_custom_endpoint,
    update_custom_endpoint,
)

CONFIG = """# Triptych settings — my notes
[ui]
theme = "dark"  # easier on the eyes
font_size = 11

# network knobs
[network]
idle_timeout = 90.0
"""

PROVIDERS = """# endpoints I use
[groq]
# the fast one
base_url = "https://api.groq.example/openai/v1"
protocol = "chat"
key_env = "GROQ_KEY"
"""

TRICKY = "a\rb\nc\t\"quoted\" back\\slash \\u0041 'single' 中文 😀 \x7f\x00 ]] [x] # not a comment"


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path))
    return tmp_path


def test_saving_keeps_the_users_comments_and_changes_only_what_changed(home):
    (home / "config.toml").write_text(CONFIG, encoding="utf-8")
    settings = load_settings(home)
    settings.ui["font_size"] = 13
    settings.ui["default_models"] = ["deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5"]
    settings.save()
    text = (home / "config.toml").read_text(encoding="utf-8")
    for comment in ("# Triptych settings — my notes", "# easier on the eyes", "# network knobs"):
        assert comment in text
    again = load_settings(home)
    assert again.config == settings.config
    assert again.ui["font_size"] == 13 and again.idle_timeout == 90.0
    del settings.ui["default_models"]  # a removed setting is removed from the file
    settings.save()
    assert "default_models" not in (home / "config.toml").read_text(encoding="utf-8")


def test_any_string_and_lists_of_tables_reload_equal(home):
    settings = load_settings(home)
    settings.ui["note"] = TRICKY
    settings.ui[TRICKY[:5]] = "key with a carriage return"
    settings.ui["recent"] = [{"path": "C:\\Users\\me\\x.md", "fmt": "md"}, {"path": "/tmp/é.html", "fmt": "html"}]
    settings.save()
    again = load_settings(home)  # the next start reads what was written
    assert again.ui["note"] == TRICKY
    assert again.ui[TRICKY[:5]] == "key with a carriage return"
    assert again.ui["recent"] == settings.ui["recent"]
    assert "[[ui.recent]]" in (home / "config.toml").read_text(encoding="utf-8")


def test_the_files_are_owner_only(home):
    settings = load_settings(home)
    settings.ui["theme"] = "light"
    settings.save()
    add_custom_endpoint(settings, "Groq", "chat", "https://api.groq.example/v1")
    for name in ("config.toml", "providers.toml"):
        assert stat.S_IMODE(os.stat(home / name).st_mode) == 0o600, name


@pytest.mark.parametrize("fail_at", ["fsync", "replace"])
def test_an_interrupted_write_leaves_the_old_file(home, monkeypatch, fail_at):
    (home / "config.toml").write_text(CONFIG, encoding="utf-8")
    settings = load_settings(home)
    settings.ui["theme"] = "light"

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(fsutil.os, fail_at, boom)
    with pytest.raises(OSError, match="No space left"):
        settings.save()
    monkeypatch.undo()
    assert (home / "config.toml").read_text(encoding="utf-8") == CONFIG
    assert sorted(p.name for p in home.iterdir()) == ["config.toml"]  # no temporary file left over


def test_custom_endpoints_are_added_changed_and_removed_keeping_comments(home, monkeypatch):
    monkeypatch.setenv("GROQ_KEY", "gsk-test-1111")
    (home / "providers.toml").write_text(PROVIDERS, encoding="utf-8")
    settings = load_settings(home)
    pid = add_custom_endpoint(settings, "MyLLM", "responses", "http://127.0.0.1:8080/v1/", None,
                              display=f"Mine {TRICKY}", color="#123456")
    assert pid == "myllm"
    assert settings.providers[pid].base_url == "http://127.0.0.1:8080/v1" and settings.colors[pid] == "#123456"
    assert settings.display_names[pid] == f"Mine {TRICKY}"
    assert load_settings(home).display_names[pid] == f"Mine {TRICKY}"  # survives a restart
    update_custom_endpoint(settings, "groq", base_url="https://other.example/v1", key_env=None)
    assert settings.providers["groq"].base_url == "https://other.example/v1"
    assert settings.providers["groq"].key_env is None
    text = (home / "providers.toml").read_text(encoding="utf-8")
    assert "# endpoints I use" in text and "# the fast one" in text and "GROQ_KEY" not in text
    remove_custom_endpoint(settings, pid)
    assert pid not in settings.providers and pid not in load_settings(home).providers
    assert "# endpoints I use" in (home / "providers.toml").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "url", "protocol", "problem"),
    [
        ("", "https://x.example", "chat", "one word"),
        ("my llm", "https://x.example", "chat", "one word"),
        ("a:b", "https://x.example", "chat", "one word"),
        ("openai", "https://x.example", "chat", "built-in"),
        ("groq", "https://x.example", "chat", "already"),
        ("new", "ftp://x.example", "chat", "http"),
        ("new", "javascript:alert(1)", "chat", "http"),
        ("new", "https://x.example", "grpc", "protocol"),
    ],
)
def test_a_bad_endpoint_is_refused_and_nothing_is_written(home, name, url, protocol, problem):
    (home / "providers.toml").write_text(PROVIDERS, encoding="utf-8")
    settings = load_settings(home)
    with pytest.raises(ConfigError, match=problem):
        add_custom_endpoint(settings, name, protocol, url)
    assert (home / "providers.toml").read_text(encoding="utf-8") == PROVIDERS
    with pytest.raises(ConfigError, match="colour"):
        update_custom_endpoint(settings, "groq", color="red")
    assert (home / "providers.toml").read_text(encoding="utf-8") == PROVIDERS
