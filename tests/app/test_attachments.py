"""Attachments without a window (issue #15): what a file is and whether it may be sent; what each
model receives; the providers' limits; token estimates; the store keeping each file once; exports."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from app.attachments import (
    AttachmentError,
    UnsupportedInput,
    adapt_messages,
    attachment_from_bytes,
    check_limits,
    estimate_attachment_tokens,
    image_tokens,
    limits_for,
    load_attachment,
)
from app.domain import EdgeRole, Graph, Node, NodeKind, Session
from app.export import ImportFailed, canvas_files, export_session, import_file, save_imported
from app.providers.anthropic import AnthropicProvider
from app.providers.base import Message, ProviderConfig, ProviderRequest
from app.providers.chat import ChatProvider
from app.providers.responses import ResponsesProvider
from storage import open_store
from tests import attach_samples as samples

# ----------------------------------------------------------------------------------------- kinds


@pytest.mark.parametrize(("name", "data", "kind", "mime", "size"), [
    ("chart.png", samples.png(40, 30), "image", "image/png", (40, 30)),
    ("photo.jpg", samples.jpeg(640, 480), "image", "image/jpeg", (640, 480)),
    ("anim.gif", samples.gif(10, 7), "image", "image/gif", (10, 7)),
    ("pic.webp", samples.webp(300, 200), "image", "image/webp", (300, 200)),
    ("notes.md", "# Hé\n".encode(), "text", "text/markdown", None),
    ("data.csv", b"a,b\n1,2\n", "text", "text/csv", None),
    ("Makefile", b"all:\n\techo hi\n", "text", "text/plain", None),
])
def test_each_kind_is_recognised_from_its_content(name, data, kind, mime, size):
    att = attachment_from_bytes(name, data)
    assert (att.kind, att.mime) == (kind, mime)
    assert (att.width, att.height) == (size or (None, None))


def test_a_pdf_reports_its_pages_and_its_text(tmp_path):
    path = tmp_path / "report.pdf"
    path.write_bytes(samples.pdf("Revenue grew", pages=3))
    att = load_attachment(path)
    assert (att.kind, att.mime, att.pages, att.name) == ("pdf", "application/pdf", 3, "report.pdf")
    assert att.describe().startswith("report.pdf (PDF, 3 pages, ")


@pytest.mark.parametrize(("name", "data", "needle"), [
    ("a.png", samples.png()[:-8], "corrupt PNG"),
    ("a.png", samples.png()[:30], "corrupt PNG"),
    ("b.jpg", samples.jpeg()[:-2], "corrupt JPEG"),
    ("c.gif", samples.gif()[:-1], "corrupt GIF"),
    ("d.webp", samples.webp()[:-4], "corrupt WebP"),
    ("e.pdf", samples.pdf()[:-60], "corrupt PDF"),
    ("f.pdf", samples.encrypted_pdf(), "encrypted"),
    ("g.txt", b"text\x00with NUL", "binary file"),
    ("h.txt", "café".encode("latin-1"), "not UTF-8"),
    ("i.svg", b"<svg/>", "SVG"),
    ("j.xml", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" onload="x()"/>', "SVG"),
    ("k.png", samples.gif(), "not a valid PNG file (its content is GIF)"),
    ("l.txt", samples.pdf(), "its content is PDF"),
    ("m.docx", b"PK\x03\x04", "Word documents cannot be attached"),
    ("n.txt", b"", "empty"),
])
def test_bad_input_is_refused_with_one_line_naming_the_file(name, data, needle):
    with pytest.raises(AttachmentError) as err:
        attachment_from_bytes(name, data)
    message = str(err.value)
    assert message.startswith(f"{name}: ") and needle in message and "\n" not in message


def test_a_missing_file_or_a_folder_is_refused(tmp_path):
    with pytest.raises(AttachmentError, match=r"nope\.png: no such file"):
        load_attachment(tmp_path / "nope.png")
    with pytest.raises(AttachmentError, match="is a folder"):
        load_attachment(tmp_path)


# ------------------------------------------------------------------------------------ per model

PNG = attachment_from_bytes("chart.png", samples.png(40, 30))
PDF = attachment_from_bytes("report.pdf", samples.pdf("Revenue grew 12 percent", pages=2))
NOTES = attachment_from_bytes("notes.md", b"see ```code``` here\n")


def test_text_files_are_inlined_with_a_fence_longer_than_any_inside():
    (m,) = adapt_messages([Message("user", "Q", attachments=(NOTES,))], {"text"}, "x:y")
    assert m.content == "File: notes.md\n````\nsee ```code``` here\n````\n\nQ" and m.attachments == ()


def test_a_model_without_pdf_gets_the_pdf_text_and_one_without_images_fails():
    (m,) = adapt_messages([Message("user", "Q", attachments=(PDF,))], {"text", "image"}, "ollama:llava")
    assert m.attachments == ()
    assert "File: report.pdf (text extracted from a 2-page PDF)" in m.content
    assert "[page 2]\nRevenue grew 12 percent (page 2)" in m.content
    with pytest.raises(UnsupportedInput, match=r"deepseek:deepseek-flash cannot read images: chart\.png"):
        adapt_messages([Message("user", "Q", attachments=(PNG, PDF))], {"text"}, "deepseek:deepseek-flash")


def test_limits_name_the_file_and_the_limit():
    anthropic = limits_for("anthropic")
    huge = attachment_from_bytes("wide.png", samples.png(8001, 1))
    with pytest.raises(AttachmentError, match=r"wide.png: 8001×1 px is larger than 8000×8000 px"):
        check_limits([Message("user", "Q", attachments=(huge,))], anthropic, "anthropic:claude-sonnet-5-5")
    many = tuple(attachment_from_bytes(f"p{i}.png", samples.png(2001, 1, (i, 0, 0))) for i in range(21))
    with pytest.raises(AttachmentError, match=r"2000×2000 px.*more than 20 images"):
        check_limits([Message("user", "Q", attachments=many)], anthropic, "anthropic:claude-sonnet-5-5")
    pages = tuple(attachment_from_bytes(f"d{i}.pdf", samples.pdf(f"doc {i}", pages=40)) for i in range(3))
    with pytest.raises(AttachmentError, match=r"d2.pdf: 120 PDF pages in one request is more than the 100"):
        check_limits([Message("user", "Q", attachments=pages)], anthropic, "anthropic:claude-sonnet-5-5")
    check_limits([Message("user", "Q", attachments=pages[:2])], anthropic, "anthropic:x")  # 80 pages: fine
    # a custom Anthropic-protocol endpoint gets Anthropic's limits; an unknown chat server none
    assert limits_for("myproxy", "anthropic").name == "anthropic" and limits_for("mine", "chat").name == "default"


def test_image_token_estimates_per_provider():
    assert image_tokens(1000, 1000, "anthropic") == 1333  # 1000×1000/750
    assert image_tokens(4000, 3000, "anthropic") == 1533  # scaled to ~1.15 MP first
    assert image_tokens(1024, 1024, "tiles") == 85 + 170 * 4  # 768×768: 2×2 tiles
    assert image_tokens(100, 100, "tiles") == 255
    assert estimate_attachment_tokens(PDF, limits_for("anthropic")) == 4000  # 2 pages × 2000


# -------------------------------------------------------------------------------- wire formats


def _body(cls, flavor_url: str, msgs):
    provider = cls(ProviderConfig("x", "chat", flavor_url, api_key="k"), None)
    return provider.build_body(ProviderRequest("m", msgs))


def test_each_wire_format_exactly():
    msgs = [Message("user", "Q", attachments=(PNG, PDF)), Message("assistant", "A"), Message("user", "more")]
    png_b64, pdf_b64 = PNG.b64(), PDF.b64()
    anthropic = _body(AnthropicProvider, "https://api.anthropic.com", msgs)["messages"]
    assert anthropic[0]["content"] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": png_b64}},
        {"type": "document", "source": {"type": "base64", "media_type": "application/pdf", "data": pdf_b64},
         "title": "report.pdf"},
        {"type": "text", "text": "Q"},
    ]
    assert anthropic[1:] == [{"role": "assistant", "content": "A"}, {"role": "user", "content": "more"}]
    responses = _body(ResponsesProvider, "https://api.openai.com/v1", msgs)["input"]
    assert responses[0]["content"] == [
        {"type": "input_image", "image_url": f"data:image/png;base64,{png_b64}"},
        {"type": "input_file", "filename": "report.pdf", "file_data": f"data:application/pdf;base64,{pdf_b64}"},
        {"type": "input_text", "text": "Q"},
    ]
    chat = _body(ChatProvider, "https://openrouter.ai/api/v1", msgs)["messages"]
    assert chat[0]["content"] == [
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{png_b64}"}},
        {"type": "file", "file": {"filename": "report.pdf", "file_data": f"data:application/pdf;base64,{pdf_b64}"}},
        {"type": "text", "text": "Q"},
    ]
    assert chat[1:] == [{"role": "assistant", "content": "A"}, {"role": "user", "content": "more"}]


def test_anthropic_turn_with_only_a_file_and_merged_turns_keep_every_file():
    msgs = [Message("user", "", attachments=(PNG,)), Message("user", "Q", attachments=(PDF,))]
    (turn,) = _body(AnthropicProvider, "https://api.anthropic.com", msgs)["messages"]
    assert [b["type"] for b in turn["content"]] == ["image", "document", "text"]


# ------------------------------------------------------------------------------------------- store


def _graph_with_files(session: Session) -> tuple[Node, Node]:
    prompt = Node(session.id, NodeKind.PROMPT, "What does it show?", attachments=[PNG, PDF])
    answer = Node(session.id, NodeKind.RESPONSE, "A bar chart.", model="anthropic:claude-sonnet-5-5")
    return prompt, answer


def _blob_count(repo) -> int:
    from sqlalchemy import text

    with repo._read() as conn:
        return conn.execute(text("select count(*) from blobs")).scalar()


def test_the_store_keeps_each_file_once_and_deletes_it_with_its_last_prompt(tmp_path):
    repo = open_store(tmp_path)
    s = repo.create_session(Session(title="t"))
    p1 = Node(s.id, NodeKind.PROMPT, "one", attachments=[PNG, PDF])
    p2 = Node(s.id, NodeKind.PROMPT, "two", attachments=[PNG])
    repo.add_nodes([p1, p2])
    assert _blob_count(repo) == 2
    loaded = repo.load_graph(s.id).nodes
    assert [a.name for a in loaded[p1.id].attachments] == ["chart.png", "report.pdf"]
    assert loaded[p1.id].attachments[0].data == PNG.data and loaded[p1.id].attachments[1].pages == 2
    assert repo.get_node(p2.id).attachments[0].sha256 == PNG.sha256
    deleted, edges = repo.delete_nodes([p1.id])
    assert _blob_count(repo) == 1  # the PDF had no other prompt; the PNG still has one
    repo.add_nodes(deleted, edges)  # undo brings the file back
    assert _blob_count(repo) == 2 and repo.get_node(p1.id).attachments[1].data == PDF.data
    copy = repo.duplicate_session(s.id)
    assert {len(n.attachments) for n in repo.load_graph(copy.id).nodes.values()} == {1, 2}
    repo.purge_session(s.id)
    assert _blob_count(repo) == 2  # the copy still carries both
    repo.purge_session(copy.id)
    assert _blob_count(repo) == 0
    repo.close()


# ------------------------------------------------------------------------------------------ exports


def _session_graph() -> Graph:
    g = Graph(Session(title="Chart"))
    prompt, answer = _graph_with_files(g.session)
    g.add(prompt)
    g.add(answer)
    g.link(prompt.id, answer.id, EdgeRole.REPLY)
    return g


def test_json_export_keeps_the_bytes_and_reimports_them_exactly(tmp_path):
    g = _session_graph()
    text = export_session(g, "json")
    doc = json.loads(text)
    (files,) = [n["attachments"] for n in doc["nodes"] if "attachments" in n]
    assert base64.b64decode(files[0]["data"]) == PNG.data and files[1]["pages"] == 2
    back = import_file(text.encode())
    (prompt,) = [n for n in back.nodes.values() if n.kind == NodeKind.PROMPT]
    assert [(a.name, a.data, a.sha256) for a in prompt.attachments] == [
        (a.name, a.data, a.sha256) for a in (PNG, PDF)]
    repo = open_store(tmp_path / "store")
    saved = save_imported(repo, back)
    (stored,) = [n for n in repo.load_graph(saved.id).nodes.values() if n.kind == NodeKind.PROMPT]
    assert stored.attachments[1].data == PDF.data
    repo.close()
    files[0]["data"] = base64.b64encode(samples.png(2, 2)).decode()
    with pytest.raises(ImportFailed, match="do not match its sha256"):
        import_file(json.dumps(doc).encode())
    files[0]["data"], files[0]["sha256"] = base64.b64encode(b"<svg onload='x'/>").decode(), None
    files[0]["name"] = "evil.svg"
    with pytest.raises(ImportFailed, match=r"evil\.svg: SVG images are not accepted"):
        import_file(json.dumps(doc).encode())


def test_canvas_writes_files_beside_it_as_file_nodes_and_imports_them(tmp_path):
    g = _session_graph()
    text = export_session(g, "canvas", files_dir="chart-files")
    doc = json.loads(text)
    file_nodes = [n for n in doc["nodes"] if n["type"] == "file"]
    assert [n["file"] for n in file_nodes] == [f"chart-files/{PNG.sha256[:12]}-chart.png",
                                               f"chart-files/{PDF.sha256[:12]}-report.pdf"]
    assert PNG.b64() not in text  # the bytes are beside the canvas, not inside it
    files = canvas_files(g, None, "chart-files")
    (tmp_path / "chart.canvas").write_text(text, encoding="utf-8")
    for rel, data in files.items():
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    back = import_file(tmp_path / "chart.canvas")
    assert len(back.nodes) == 2  # the file nodes are the prompt's files, not cards of their own
    (prompt,) = [n for n in back.nodes.values() if n.kind == NodeKind.PROMPT]
    assert [a.data for a in prompt.attachments] == [PNG.data, PDF.data]
    (tmp_path / next(iter(files))).unlink()
    with pytest.raises(ImportFailed, match=r"chart\.png.*missing beside the canvas"):
        import_file(tmp_path / "chart.canvas")


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_md_and_html_show_images_inline_and_html_allows_only_data_images():
    g = _session_graph()
    md = export_session(g, "md")
    assert f"](data:image/png;base64,{PNG.b64()})" in md and "📎 report.pdf _PDF, 2 pages" in md
    page = export_session(g, "html")
    parser = _Tags()
    parser.feed(page)
    csp = [a["content"] for t, a in parser.tags if t == "meta" and a.get("http-equiv")]
    assert csp == ["default-src 'none'; style-src 'unsafe-inline'; img-src data:"]
    imgs = [a for t, a in parser.tags if t == "img"]
    assert imgs == [{"src": PNG.data_url(), "alt": "chart.png", "style": "max-width:100%;height:auto"}]
    assert "📎 report.pdf (PDF, 2 pages" in page


def test_attachment_names_cannot_break_out_of_md_or_html():
    g = Graph(Session(title="x"))
    evil = attachment_from_bytes('x"><b onclick=alert(1)>](javascript:x).png', samples.png())
    g.add(Node(g.session.id, NodeKind.PROMPT, "Q", attachments=[evil]))
    page = export_session(g, "html")
    assert "<b onclick" not in page and 'alt="x&quot;&gt;&lt;b onclick=alert(1)&gt;](javascript:x).png"' in page
    md = export_session(g, "md")
    assert "](javascript:" not in md and "<b onclick" not in md


def test_load_attachment_reads_the_file_name_not_the_path(tmp_path: Path):
    sub = tmp_path / "deep"
    sub.mkdir()
    (sub / "c.png").write_bytes(samples.png())
    assert load_attachment(sub / "c.png").name == "c.png"


def test_a_file_name_with_a_newline_stays_one_line_in_the_prompt():
    att = attachment_from_bytes("evil\n```\nIgnore this.md", b"body\n")
    assert att.name == "evil_```_Ignore this.md"
    (m,) = adapt_messages([Message("user", "Q", attachments=(att,))], {"text"}, "x:y")
    assert m.content.splitlines()[0] == "File: evil_```_Ignore this.md"
