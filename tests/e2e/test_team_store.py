"""The team store end to end: `triptych --database-url postgresql+psycopg://…` (and
TRIPTYCH_DATABASE_URL) on a throwaway PostgreSQL cluster (tests/pgcluster.py): the CLI asks, lists and
shows through PostgreSQL; an unreachable server is named without its password; a newer schema is
refused untouched."""

from __future__ import annotations

import json

from storage import NewerSchemaError, open_store
from tests.fakes.server import Answer

DS, CL = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5"


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_ask_sessions_show_and_search_go_through_the_team_store(cli, server, pg_url):
    server.script("deepseek-flash", Answer(text=("Paris", " is the capital.")))
    server.script("claude-sonnet-5-5", Answer(text=("Paris.",)))
    r = cli("--database-url", pg_url, "ask", "--json", "-m", DS, "-m", CL, "Capital of France?")
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    assert [o["text"] for o in out] == ["Paris is the capital.", "Paris."]
    # the answers are in PostgreSQL, not in a local SQLite file
    assert not (cli.home / "triptych.db").exists()
    with open_store(pg_url) as repo:
        graph = repo.load_graph(out[0]["session_id"])
        assert {n.text for n in graph.nodes.values()} == {"Capital of France?", "Paris.", "Paris is the capital."}
    # the variable works as well as the option
    env = {"TRIPTYCH_DATABASE_URL": pg_url}
    listed = json.loads(cli("sessions", "--json", extra_env=env).stdout)
    assert [s["id"] for s in listed] == [out[0]["session_id"]]
    shown = cli("show", out[0]["session_id"], "--json", extra_env=env)
    assert shown.returncode == 0, shown.stderr
    assert "Paris is the capital." in shown.stdout


def test_members_see_each_others_sessions_with_owner_and_author(cli, server, pg_url):
    server.script("deepseek-flash", Answer(text=("Hi Bob",)))
    r = cli("--database-url", pg_url, "ask", "--json", "-m", DS, "Hello", extra_env={"TRIPTYCH_USER": "alice"})
    assert r.returncode == 0, r.stderr
    (answer,) = lines(r.stdout)
    assert answer["author"] == "alice"
    bob = {"TRIPTYCH_USER": "bob", "TRIPTYCH_DATABASE_URL": pg_url}
    (listed,) = json.loads(cli("sessions", "--json", extra_env=bob).stdout)
    assert (listed["id"], listed["owner"], listed["visibility"]) == (answer["session_id"], "alice", "shared")
    shown = json.loads(cli("show", answer["session_id"], "--json", extra_env=bob).stdout)
    assert shown["session"]["owner"] == "alice"
    assert {n["author"] for n in shown["nodes"]} == {"alice"}


def test_a_session_made_private_disappears_for_other_members(cli, server, pg_url):
    server.script("deepseek-flash", Answer(text=("draft",)))
    alice = {"TRIPTYCH_USER": "alice", "TRIPTYCH_DATABASE_URL": pg_url}
    bob = {"TRIPTYCH_USER": "bob", "TRIPTYCH_DATABASE_URL": pg_url}
    (answer,) = lines(cli("ask", "--json", "-m", DS, "My draft", extra_env=alice).stdout)
    sid = answer["session_id"]
    refused = cli("visibility", sid, "private", extra_env=bob)
    assert refused.returncode == 2 and "belongs to alice" in refused.stderr
    assert cli("visibility", sid, "private", extra_env=alice).returncode == 0
    assert json.loads(cli("sessions", "--json", extra_env=bob).stdout) == []
    assert cli("show", sid, extra_env=bob).returncode == 2
    (mine,) = json.loads(cli("sessions", "--json", extra_env=alice).stdout)
    assert mine["visibility"] == "private"


def test_an_unreachable_server_is_named_without_its_password(cli, pg_cluster):
    url = f"postgresql+psycopg://alice:hunter2secret@127.0.0.1:{pg_cluster.port + 1}/team"
    r = cli("--database-url", url, "sessions", timeout=30)
    assert r.returncode == 1
    assert f"127.0.0.1:{pg_cluster.port + 1}/team" in r.stderr and "cannot reach the team store" in r.stderr
    assert "hunter2secret" not in r.stderr + r.stdout
    logs = list((cli.home / "logs").glob("*")) if (cli.home / "logs").exists() else []
    assert all("hunter2secret" not in p.read_text(errors="replace") for p in logs)


def test_doctor_names_the_team_store_without_its_password(cli, pg_cluster):
    url = pg_cluster.url(pg_cluster.create_db(), password="hunter2secret")
    r = cli("--database-url", url, "doctor", "--offline")
    assert "hunter2secret" not in r.stdout + r.stderr
    assert f"127.0.0.1:{pg_cluster.port}" in r.stdout and "ok" in r.stdout


def test_a_newer_schema_is_refused_and_left_untouched(pg_cluster, cli):
    db = pg_cluster.create_db()
    url = pg_cluster.url(db)
    open_store(url).close()
    pg_cluster.sql(db, "INSERT INTO migrations (name, applied_at) VALUES ('m999_from_the_future', 1e10)")
    before = pg_cluster.sql(db, "SELECT name FROM migrations ORDER BY name")
    try:
        open_store(url)
    except NewerSchemaError as exc:
        assert "newer Triptych" in str(exc) and "127.0.0.1" in str(exc)
    else:
        raise AssertionError("a newer schema was opened")
    r = cli("--database-url", url, "sessions")
    assert r.returncode == 1 and "newer Triptych" in r.stderr
    assert pg_cluster.sql(db, "SELECT name FROM migrations ORDER BY name") == before


def test_another_programs_database_is_refused(pg_cluster):
    db = pg_cluster.create_db()
    pg_cluster.sql(db, "CREATE TABLE invoices (id int)")
    try:
        open_store(pg_cluster.url(db))
    except Exception as exc:
        assert "another program" in str(exc)
    else:
        raise AssertionError("opened another program's database")
    tables = {r[0] for r in pg_cluster.sql(db, "SELECT tablename FROM pg_tables WHERE schemaname='public'")}
    assert tables == {"invoices"}


def test_copy_to_the_team_store_and_back_keeps_ids_and_adds_only_what_is_new(cli, server, pg_url):
    server.script("deepseek-flash", Answer(text=("one",)), Answer(text=("two",)))
    first = lines(cli("ask", "--json", "-m", DS, "Offline question", extra_env={"TRIPTYCH_USER": "dana"}).stdout)
    sid = first[0]["session_id"]
    r = cli("copy", sid, "--to", pg_url, "--json")
    assert r.returncode == 0, r.stderr
    copied = json.loads(r.stdout)
    assert copied == {"session_id": sid, "title": copied["title"], "new_session": True,
                      "cards": 2, "edges": 1, "matches": 0, "votes": 0, "already": 0}
    with open_store(pg_url) as team:
        graph = team.load_graph(sid)
        assert first[0]["node_id"] in graph.nodes and graph.session.owner == "dana"
        assert {n.author for n in graph.nodes.values()} == {"dana"}
    # copying again adds nothing
    again = json.loads(cli("copy", sid, "--to", pg_url, "--json").stdout)
    assert (again["new_session"], again["cards"], again["edges"], again["already"]) == (False, 0, 0, 2)
    plain = cli("copy", sid, "--to", pg_url)
    assert "nothing new" in plain.stdout
    # work goes on offline, then only the new cards are published
    r = cli("ask", "--json", "--session", sid, "-m", DS, "Offline follow-up")
    assert r.returncode == 0, r.stderr
    more = json.loads(cli("copy", sid, "--to", pg_url, "--json").stdout)
    assert (more["cards"], more["edges"], more["already"]) == (2, 1, 2)
    with open_store(pg_url) as team:
        assert len(team.load_graph(sid).nodes) == 4
    # and from the team store into another member's empty local store
    other = {"TRIPTYCH_HOME": str(cli.home.parent / "erin")}
    back = json.loads(cli("copy", sid[:8], "--from", pg_url, "--json", extra_env=other).stdout)
    assert (back["new_session"], back["cards"]) == (True, 4)
    shown = json.loads(cli("show", sid, "--json", extra_env=other).stdout)
    assert len(shown["nodes"]) == 4 and shown["session"]["owner"] == "dana"
