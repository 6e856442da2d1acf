"""Hostile model output in Qt: the cards' HTML (app.render) loaded into a QTextDocument, and a real card
item painting it, request no resource at all (no image, no stylesheet: QTextDocument would load
`file:` URLs from disk and hand others to `loadResource`), and nothing reaches a loopback listener.
The export and store side is in tests/e2e/test_inert.py (it shares the hostile text and the listener).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QUrl
from PySide6.QtGui import QImage, QPainter, QTextDocument

from app.domain import Node, NodeKind, NodeStatus, Session
from app.render.markdown import render_markdown
from tests.e2e.test_inert import Listener, hostile_markdown
from ui.canvas.scene import CanvasScene
from ui.export_png import default_style


class RecordingDocument(QTextDocument):
    """A QTextDocument that records every resource it asks for (images, stylesheets)."""

    def __init__(self) -> None:
        super().__init__()
        self.requested: list[str] = []

    def loadResource(self, kind: int, url: QUrl) -> object:  # noqa: N802 (Qt's name)
        self.requested.append(url.toString())
        return super().loadResource(kind, url)


def layout_and_paint(doc: QTextDocument) -> None:
    doc.setTextWidth(480)
    doc.size()  # lays out: images are requested here
    image = QImage(500, 2000, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    doc.drawContents(painter)
    painter.end()


def image_refs(doc: QTextDocument) -> list[str]:
    """Image references anywhere in a document (each would be loaded when painted)."""
    refs = []
    block = doc.begin()
    while block.isValid():
        it = block.begin()
        while not it.atEnd():
            fmt = it.fragment().charFormat()
            if fmt.isImageFormat():
                refs.append(fmt.toImageFormat().name())
            it += 1
        block = block.next()
    return refs


@pytest.fixture
def listener():
    lst = Listener()
    yield lst
    lst.close()


def test_card_html_in_a_qtextdocument_requests_nothing(qapp, listener):
    hostile = hostile_markdown(listener.url)
    # Control: the same document type does request an <img> it is given (so the check below can fail).
    control = RecordingDocument()
    control.setHtml(f'<p>x</p><img src="{listener.url}/control.png"><img src="file:///etc/hostname">')
    layout_and_paint(control)
    assert any("control.png" in u for u in control.requested) and image_refs(control)

    doc = RecordingDocument()
    doc.setHtml(render_markdown(hostile))
    layout_and_paint(doc)
    assert "A helpful answer" in doc.toPlainText()
    assert doc.requested == [] and image_refs(doc) == []

    # A real card item, as the canvas shows it.
    session = Session()
    node = Node(
        session.id, NodeKind.RESPONSE, hostile, model="anthropic:claude-sonnet-5-5", status=NodeStatus.DONE
    )
    scene = CanvasScene(default_style("light"))
    card = scene.add_card(node)
    image = QImage(800, 1200, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    scene.render(painter)
    painter.end()
    assert "A helpful answer" in card.body_text
    assert card.text_documents() and all(image_refs(d) == [] for d in card.text_documents())
    assert listener.hits == []
