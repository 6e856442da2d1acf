"""A broken config.toml / providers.toml (or a bad variable) is refused with one message naming the
file, the line and the key, never a traceback and never silently ignored; the CLI exits 2."""

from __future__ import annotations

import os

import pytest

from app import cli
from app.config import ConfigError, load_settings
from tests.reliability import record


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for var in list(os.environ):
        if var.endswith(("_API_KEY", "_BASE_URL")) or var.startswith("TRIPTYCH_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")


# (file, content, [words the message must contain besides the file name])
BROKEN = {
    "toml syntax": ("config.toml", "[ui]\ntheme = \"dark\"\n\n[network]\nidle_timeout = = 3\n",
                    ["line 5", "idle_timeout", "invalid TOML"]),
    "unclosed table header": ("providers.toml", "[mine\nbase_url = \"http://x\"\n", ["line 1", "invalid TOML"]),
    "timeout not a number": ("config.toml", "[network]\nconnect_timeout = 2\nidle_timeout = \"soon\"\n",
                             ["line 3", "network.idle_timeout", "positive number", "'soon'"]),
    "timeout negative": ("config.toml", "[network]\nidle_timeout = -1\n", ["line 2", "network.idle_timeout"]),
    "network not a table": ("config.toml", "network = 3\n", ["line 1", "network must be a table"]),
    "ui not a table": ("config.toml", "ui = \"dark\"\n", ["line 1", "ui must be a table"]),
    "override headers not a table": ("providers.toml", "[deepseek]\nbase_url = \"http://h\"\nheaders = \"X: y\"\n",
                                     ["line 3", "deepseek.headers", "table of strings"]),
    "override not a table": ("providers.toml", "deepseek = \"https://api.deepseek.com\"\n",
                             ["line 1", "deepseek must be a table"]),
    "override base_url not a URL": ("providers.toml", "[anthropic]\n\nbase_url = 5\n",
                                    ["line 3", "anthropic.base_url", "http(s) URL"]),
    "config override base_url ftp": ("config.toml", "[providers.openai]\nbase_url = \"ftp://files\"\n",
                                     ["line 2", "providers.openai.base_url", "'ftp://files'"]),
    "config override headers": ("config.toml", "[providers.openai]\nheaders = 3\n",
                                ["line 2", "providers.openai.headers"]),
    "key_env not a name": ("providers.toml", "[deepseek]\nkey_env = 5\n", ["line 2", "deepseek.key_env"]),
    "openai api": ("providers.toml", "[openai]\napi = \"soap\"\n", ["line 2", "openai.api", "'chat' or 'responses'"]),
    "custom without base_url": ("providers.toml", "[mine]\nprotocol = \"chat\"\n", ["line 1", "mine.base_url"]),
    "custom protocol": ("providers.toml", "[mine]\nbase_url = \"http://10.0.0.5:8000/v1\"\nprotocol = \"soap\"\n",
                        ["line 3", "mine.protocol", "chat, responses or anthropic"]),
    "custom headers": ("providers.toml", "[mine]\nbase_url = \"http://h/v1\"\nheaders = [1, 2]\n",
                       ["line 3", "mine.headers"]),
    "not utf-8": ("providers.toml", b"[mine]\nbase_url = \"http://h\xe9\"\n", ["line 2", "not UTF-8"]),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_config_names_file_line_and_key(tmp_path, case):
    name, content, words = BROKEN[case]
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{path}, line "), message
    for word in words:
        assert word in message, (word, message)
    assert "\n" not in message


def test_cli_refuses_a_broken_config_with_exit_2_and_one_line(tmp_path, capsys):
    (tmp_path / "providers.toml").write_text("[deepseek]\nheaders = \"X: y\"\n")
    assert cli.main(["--data-dir", str(tmp_path), "sessions"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert f"{tmp_path / 'providers.toml'}, line 2: deepseek.headers" in err
    record("Bad input", "malformed providers.toml (a header table given as a string)", err.strip()
           .replace(str(tmp_path), "<data dir>"), "nothing changes; exit status 2")


def test_a_key_in_a_broken_line_is_not_echoed_in_full(tmp_path):
    key = "-".join(("sk", "SENTINEL", "0123456789abcdef"))  # built here: no key-like literal in the source
    (tmp_path / "providers.toml").write_text(f'[mine]\nbase_url = "http://h"\napi_key = = "{key}"\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(tmp_path)
    assert "line 3" in str(caught.value) and "api_key" in str(caught.value)
    assert "0123456789abcdef" not in str(caught.value)


def test_bad_base_url_variable_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("DEEPSEEK_BASE_URL", "api.deepseek.com")
    with pytest.raises(ConfigError, match=r"DEEPSEEK_BASE_URL must be an http\(s\) URL, got 'api.deepseek.com'"):
        load_settings(tmp_path)


def test_bad_idle_timeout_variable_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_IDLE_TIMEOUT", "two minutes")
    with pytest.raises(ConfigError, match="TRIPTYCH_IDLE_TIMEOUT"):
        load_settings(tmp_path)


def test_valid_files_still_load(tmp_path, monkeypatch):
    monkeypatch.setenv("MYSERVER_KEY", "sk-local-123456")
    (tmp_path / "config.toml").write_text(
        "[ui]\ntheme = \"dark\"\n\n[network]\nidle_timeout = 30\nconnect_timeout = 2.5\n\n"
        "[providers.openai]\nbase_url = \"http://127.0.0.1:9/v1\"\n")
    (tmp_path / "providers.toml").write_text(
        "[openai]\napi = \"chat\"\n\n[deepseek]\nheaders = { \"X-Title\" = \"Triptych\" }\n\n"
        "[myserver]\nbase_url = \"http://10.0.0.5:8000/v1\"\nprotocol = \"anthropic\"\nkey_env = \"MYSERVER_KEY\"\n")
    s = load_settings(tmp_path)
    assert (s.idle_timeout, s.connect_timeout) == (30.0, 2.5)
    assert s.providers["openai"].protocol == "chat" and s.providers["openai"].base_url == "http://127.0.0.1:9/v1"
    assert s.providers["deepseek"].headers == {"X-Title": "Triptych"}
    assert s.providers["myserver"].protocol == "anthropic" and s.providers["myserver"].api_key == "sk-local-123456"
    assert s.ui["theme"] == "dark"


def _fake_keyring(monkeypatch, keys):
    """The OS keyring as `keys` (provider -> key); returns the providers asked, in order."""
    import app.config as config

    asked: list[str] = []

    def get(provider_id):
        asked.append(provider_id)
        return keys.get(provider_id)

    monkeypatch.delenv("TRIPTYCH_NO_KEYRING", raising=False)
    monkeypatch.setattr(config, "keyring_get", get)
    return asked


def test_the_window_start_leaves_the_keyring_for_later_and_the_keyring_key_wins(tmp_path, monkeypatch):
    """Start-up (issue 13): the window loads its settings without asking the OS keyring (importing
    keyring and finding its backend took ~190 ms before the window could be built); a provider whose
    key may be there is not said to lack one meanwhile; the keyring's answer then wins over the
    environment's key, as a full load would have chosen."""
    from app.config import apply_keyring_keys, read_keyring_keys

    asked = _fake_keyring(monkeypatch, {"openai": "sk-from-keyring-123456", "anthropic": "sk-ant-keyring-123456"})
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env-123456")
    for name in ("ANTHROPIC_API_KEY", "DEEPSEEK_API_KEY", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings(tmp_path, keyring=False)
    assert asked == []
    assert settings.keyring_pending
    assert settings.providers["openai"].api_key == "sk-from-env-123456"
    assert settings.has_key("anthropic"), "not said missing before the keyring has answered"

    apply_keyring_keys(settings, read_keyring_keys(list(settings.providers)))
    assert not settings.keyring_pending
    assert settings.providers["openai"].api_key == "sk-from-keyring-123456"
    assert settings.key_sources["openai"] == "keyring"
    assert settings.has_key("anthropic")
    assert not settings.has_key("deepseek"), "known missing once the keyring has answered"
    full = load_settings(tmp_path)  # the CLI's load asks the keyring at once: the same keys
    assert {p: c.api_key for p, c in full.providers.items()} == {p: c.api_key for p, c in settings.providers.items()}


def test_a_send_before_the_keyring_answered_asks_it_once(tmp_path, monkeypatch):
    from app.config import ensure_keyring_keys

    asked = _fake_keyring(monkeypatch, {"deepseek": "sk-deepseek-keyring-1"})
    settings = load_settings(tmp_path, keyring=False)
    ensure_keyring_keys(settings)
    ensure_keyring_keys(settings)
    assert settings.providers["deepseek"].api_key == "sk-deepseek-keyring-1"
    assert asked.count("deepseek") == 1
