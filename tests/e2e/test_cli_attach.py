"""`triptych ask -a FILE` end to end (issue #15): a real subprocess against the loopback fake server,
which records every request body, so each provider's exact file format is checked; bad files are
refused with exit 2 and one line naming the file, with nothing sent and nothing stored."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from tests import attach_samples as samples

DS, CL, GP = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def files(tmp_path):
    d = tmp_path / "files"
    d.mkdir()
    (d / "chart.png").write_bytes(samples.png(40, 30))
    (d / "report.pdf").write_bytes(samples.pdf("Revenue grew 12 percent", pages=2))
    (d / "notes.md").write_text("# Notes\n\nuse `x` here\n", encoding="utf-8")
    return d


def posted(server) -> dict[str, dict]:
    """model -> the JSON body it was sent (the last request naming it)."""
    with server._lock:
        return {r.model: r.body for r in server.requests if r.model and r.method == "POST"}


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


NOTES_BLOCK = "File: notes.md\n```\n# Notes\n\nuse `x` here\n```"


def test_each_provider_gets_its_own_format_and_a_text_only_lane_fails_alone(cli, server, files):
    chart, report, notes = files / "chart.png", files / "report.pdf", files / "notes.md"
    r = cli("ask", "-m", CL, "-m", GP, "-m", DS, "-a", str(chart), "-a", str(report), "-a", str(notes),
            "--json", "What does the chart show?")
    assert r.returncode == 1, r.stderr  # the DeepSeek lane failed
    out = {o["model"]: o for o in lines(r.stdout)}
    assert out[CL]["status"] == out[GP]["status"] == "done"
    ds = out[DS]
    assert ds["status"] == "error" and ds["error"]["kind"] == "unsupported_input"
    assert DS in ds["error"]["message"] and "chart.png" in ds["error"]["message"]
    assert "cannot read images: chart.png" in r.stderr  # said once on stderr too

    bodies = posted(server)
    assert "deepseek-flash" not in bodies  # nothing was sent to the text-only model
    text = f"{NOTES_BLOCK}\n\nWhat does the chart show?"
    assert bodies["claude-sonnet-5-5"]["messages"] == [{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64(chart)}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": b64(report)},
         "title": "report.pdf"},
        {"type": "text", "text": text},
    ]}]
    assert bodies["gpt-6.2-sol"]["input"] == [{"role": "user", "content": [
        {"type": "input_image", "image_url": f"data:image/png;base64,{b64(chart)}"},
        {"type": "input_file", "filename": "report.pdf", "file_data": f"data:application/pdf;base64,{b64(report)}"},
        {"type": "input_text", "text": text},
    ]}]


def test_chat_completions_image_url_and_file_parts_and_pdf_text_for_a_model_without_pdf(cli, server, files, tmp_path):
    chart, report = files / "chart.png", files / "report.pdf"
    home = cli.home
    home.mkdir(parents=True, exist_ok=True)
    # a local model marked as reading images (not PDFs); OpenAI over Chat Completions reads both
    (home / "providers.toml").write_text('[ollama]\ninputs = { "llava:13b" = ["text", "image"] }\n', encoding="utf-8")
    r = cli("ask", "-m", "ollama:llava:13b", "-m", GP, "-a", str(chart), "-a", str(report), "--json", "Summarise",
            extra_env={"TRIPTYCH_OPENAI_API": "chat"})
    assert r.returncode == 0, r.stderr
    bodies = posted(server)
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64(chart)}"}}
    assert bodies["gpt-6.2-sol"]["messages"] == [{"role": "user", "content": [
        image,
        {"type": "file", "file": {"filename": "report.pdf", "file_data": f"data:application/pdf;base64,{b64(report)}"}},
        {"type": "text", "text": "Summarise"},
    ]}]
    (msg,) = bodies["llava:13b"]["messages"]
    assert msg["content"][0] == image and len(msg["content"]) == 2
    pdf_text = msg["content"][1]["text"]
    assert pdf_text.startswith("File: report.pdf (text extracted from a 2-page PDF)\n```\n[page 1]\n")
    assert "Revenue grew 12 percent (page 2)" in pdf_text and pdf_text.endswith("```\n\nSummarise")


def test_follow_up_resends_the_files_byte_identically(cli, server, files):
    chart = files / "chart.png"
    first = cli("ask", "-m", CL, "-a", str(chart), "--json", "Describe it")
    assert first.returncode == 0, first.stderr
    (answer,) = lines(first.stdout)
    before = posted(server)["claude-sonnet-5-5"]["messages"][0]
    follow = cli("ask", "--parent", answer["node_id"], "--json", "And the colours?")
    assert follow.returncode == 0, follow.stderr
    again = posted(server)["claude-sonnet-5-5"]["messages"]
    assert [m["role"] for m in again] == ["user", "assistant", "user"]
    assert again[0] == before  # the same blocks, the same base64: the provider's prompt cache can hit
    assert again[2]["content"] == "And the colours?"


def test_dry_run_shows_files_and_token_estimates(cli, server, files):
    r = cli("ask", "--dry-run", "--json", "-m", CL, "-m", DS, "-a", str(files / "chart.png"),
            "-a", str(files / "report.pdf"), "Q")
    assert r.returncode == 0, r.stderr
    cl, ds = lines(r.stdout)
    assert [f["name"] for f in cl["messages"][0]["files"]] == ["chart.png", "report.pdf"]
    assert cl["files_tokens_estimate"] == 2 + 2 * 2000  # 40×30/750 rounded, plus 2 PDF pages
    assert ds["unsupported_input"] and "chart.png" in ds["unsupported_input"]
    assert server.requests == []


BAD = [
    ("missing.png", None, "no such file"),
    ("corrupt.png", samples.png()[:-20], "corrupt PNG"),
    ("cut.pdf", samples.pdf()[:200], "corrupt PDF"),
    ("locked.pdf", samples.encrypted_pdf(), "encrypted"),
    ("binary.txt", b"MZ\x00\x01\x02binary", "binary file"),
    ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "SVG"),
    ("photo.png", samples.jpeg(), "not a valid PNG"),
]


@pytest.mark.parametrize(("name", "data", "needle"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_file_is_refused_exit_2_one_line_nothing_sent_nothing_stored(cli, server, tmp_path, name, data, needle):
    first = cli("ask", "-m", CL, "--json", "hello")
    assert first.returncode == 0
    db = cli.home / "triptych.db"
    count = sqlite3.connect(db).execute("select count(*) from nodes").fetchone()[0]
    with server._lock:
        server.requests.clear()
    path = tmp_path / name
    if data is not None:
        path.write_bytes(data)
    r = cli("ask", "--session", "last", "-m", CL, "-a", str(path), "Q")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and name in r.stderr and needle in r.stderr, r.stderr
    assert r.stdout == "" and server.requests == []
    assert sqlite3.connect(db).execute("select count(*) from nodes").fetchone()[0] == count


def test_an_image_over_the_providers_limit_is_refused_before_sending(cli, server, tmp_path):
    big = tmp_path / "huge.png"
    big.write_bytes(samples.png(8001, 2))
    r = cli("ask", "-m", CL, "-a", str(big), "Q")
    assert r.returncode == 2 and "huge.png" in r.stderr and "8000×8000" in r.stderr, r.stderr
    assert server.requests == []


def test_files_are_stored_once_and_shown_by_sha(cli, server, files):
    chart = files / "chart.png"
    assert cli("ask", "-m", CL, "-a", str(chart), "--json", "one").returncode == 0
    assert cli("ask", "-m", GP, "-a", str(chart), "--json", "two").returncode == 0
    con = sqlite3.connect(cli.home / "triptych.db")
    assert con.execute("select sha256, size from blobs").fetchall() == [
        (hashlib.sha256(chart.read_bytes()).hexdigest(), chart.stat().st_size)]
    assert con.execute("select count(*) from node_files").fetchone()[0] == 2


def test_show_json_lists_a_prompts_files(cli, server, files):
    r = cli("ask", "-m", CL, "-a", str(files / "chart.png"), "--json", "Q")
    assert r.returncode == 0, r.stderr
    (answer,) = lines(r.stdout)
    shown = json.loads(cli("show", answer["session_id"], "--json").stdout)
    (prompt,) = [n for n in shown["nodes"] if n["kind"] == "prompt"]
    assert prompt["attachments"] == [{"name": "chart.png", "kind": "image", "mime": "image/png", "size": (files / "chart.png").stat().st_size,
                                      "sha256": hashlib.sha256((files / "chart.png").read_bytes()).hexdigest(),
                                      "width": 40, "height": 30}]
    assert "attachments" not in next(n for n in shown["nodes"] if n["kind"] == "response")
    assert "📎 chart.png (PNG image, 40×30, " in cli("show", answer["session_id"]).stdout


def test_export_canvas_writes_the_files_beside_it_and_import_brings_them_back(cli, server, files, tmp_path):
    chart, report = files / "chart.png", files / "report.pdf"
    r = cli("ask", "-m", CL, "-a", str(chart), "-a", str(report), "--json", "Q")
    assert r.returncode == 0, r.stderr
    sid = lines(r.stdout)[0]["session_id"]
    out = tmp_path / "vault" / "chart.canvas"
    out.parent.mkdir()
    assert cli("export", sid, "--format", "canvas", "-o", str(out)).returncode == 0
    written = sorted(p.name for p in (out.parent / "chart-files").iterdir())
    sha = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:12] for p in (chart, report)}
    assert written == sorted([f"{sha['chart.png']}-chart.png", f"{sha['report.pdf']}-report.pdf"])
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert sorted(n["file"] for n in doc["nodes"] if n["type"] == "file") == [f"chart-files/{w}" for w in written]
    imported = cli("import", str(out))
    assert imported.returncode == 0, imported.stderr
    new_sid = imported.stdout.strip().split()[-1]
    shown = json.loads(cli("show", new_sid, "--json").stdout)
    (prompt,) = [n for n in shown["nodes"] if n["kind"] == "prompt"]
    assert [a["name"] for a in prompt["attachments"]] == ["chart.png", "report.pdf"]


def test_dry_run_text_lists_each_file_per_model(cli, server, files):
    r = cli("ask", "--dry-run", "-m", CL, "-m", DS, "-a", str(files / "report.pdf"), "-a", str(files / "notes.md"),
            "Q")
    assert r.returncode == 0, r.stderr
    claude, deepseek = r.stdout.split("=== ")[1:]
    assert "files: 1 sent as files (≈4,000 tokens, estimate), 1 inlined as text" in claude
    assert "[file] report.pdf (PDF, 2 pages," in claude and "File: notes.md" in claude
    assert "files: 0 sent as files (≈0 tokens, estimate), 2 inlined as text" in deepseek
    assert "File: report.pdf (text extracted from a 2-page PDF)" in deepseek
