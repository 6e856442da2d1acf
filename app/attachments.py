"""Files in prompts (DESIGN.md, "Attachments"): what a file is, whether it may be sent, and how it
becomes part of what one model receives. Pure Python, no Qt, no I/O besides `load_attachment`'s read.

- `load_attachment(path)` / `attachment_from_bytes(name, data)` sniff the content (never trusting the
  name alone), check it (a corrupt image or PDF, an encrypted PDF, a binary file passed as text, an SVG,
  a file whose content is not what its name says: all refused) and return an immutable `Attachment`.
  Every refusal is an `AttachmentError` whose message is one line naming the file.
- `adapt_messages(messages, inputs, model)` turns the attachments of a lane's messages into what one
  model takes: text files inlined as fenced blocks headed by the file name; PDFs kept for a model that
  reads PDFs, else replaced by their extracted text (pypdf); images kept for a model that reads
  images, else `UnsupportedInput` (that lane fails before sending; the others run).
- `check_limits(messages, provider)` enforces the providers' documented limits
  (resources/attachment_limits.toml) before anything is sent.
- `estimate_attachment_tokens(att, provider)`: image token formulas per provider and PDF pages, for the
  context lens and `--dry-run` (labelled as estimates).

The Qt window (later) calls the same functions: `attachment_from_bytes` for a pasted image,
`Attachment.describe()` for a chip, `Attachment.data` for a thumbnail.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import math
import re
import struct
import tomllib
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.providers.base import Message

log = logging.getLogger(__name__)

KINDS = ("image", "pdf", "text")
IMAGE_MIMES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp", "gif": "image/gif"}
PDF_MIME = "application/pdf"
# Refuse before reading more than this: no provider takes a larger request (see attachment_limits.toml).
MAX_FILE_BYTES = 50 * 1024 * 1024

# extension -> what the content must be
_EXT_KIND = {
    ".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".webp": "webp", ".gif": "gif",
    ".pdf": "pdf", ".svg": "svg", ".svgz": "svg",
}
# binary formats people try to attach that no provider path here takes
_UNSUPPORTED_EXT = {
    ".bmp": "BMP images", ".tif": "TIFF images", ".tiff": "TIFF images", ".heic": "HEIC images",
    ".heif": "HEIF images", ".avif": "AVIF images", ".ico": "icons", ".docx": "Word documents",
    ".doc": "Word documents", ".xlsx": "Excel workbooks", ".xls": "Excel workbooks",
    ".pptx": "PowerPoint files", ".zip": "zip archives", ".gz": "compressed files",
    ".exe": "programs", ".mp3": "audio files", ".wav": "audio files", ".mp4": "videos", ".mov": "videos",
}
_LABEL = {"png": "PNG", "jpeg": "JPEG", "webp": "WebP", "gif": "GIF", "pdf": "PDF", "svg": "SVG"}


class AttachmentError(ValueError):
    """A file that may not be attached or sent. `str()` is one line naming the file."""


class UnsupportedInput(AttachmentError):
    """The target model cannot take this kind of file (error kind `unsupported_input`)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """One file as sent: its name (no directory), kind (image | pdf | text), MIME type, the bytes and
    their SHA-256, and what was read from the content (image width/height, PDF page count)."""

    name: str
    kind: str
    mime: str
    data: bytes = field(repr=False)
    sha256: str = ""
    width: int | None = None
    height: int | None = None
    pages: int | None = None

    def __post_init__(self) -> None:
        if not self.sha256:
            object.__setattr__(self, "sha256", hashlib.sha256(self.data).hexdigest())

    @property
    def size(self) -> int:
        return len(self.data)

    def b64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_url(self) -> str:
        return f"data:{self.mime};base64,{self.b64()}"

    def text(self) -> str:
        """The content of a text file (UTF-8, a BOM dropped)."""
        return self.data.decode("utf-8-sig")

    def info(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for key in ("width", "height", "pages"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out

    def meta(self) -> dict[str, Any]:
        """Everything but the bytes (for exports, JSON and the store)."""
        return {"name": self.name, "kind": self.kind, "mime": self.mime, "size": self.size,
                "sha256": self.sha256, **self.info()}

    def describe(self) -> str:
        """One short line for a chip, the lens and `--dry-run`: 'chart.png (PNG image, 1200×800, 84 KB)'."""
        if self.kind == "image":
            what = f"{_LABEL.get(self.mime.split('/')[-1], self.mime)} image, {self.width}×{self.height}"
        elif self.kind == "pdf":
            what = f"PDF, {self.pages} page{'s' if self.pages != 1 else ''}"
        else:
            what = "text"
        return f"{self.name} ({what}, {human_size(self.size)})"

    def __repr__(self) -> str:
        return f"<Attachment {self.describe()} {self.sha256[:12]}>"


def human_size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.0f} KB"
    return f"{n / (1024 * 1024):.1f} MB"


# ------------------------------------------------------------------------------------------- loading
def load_attachment(path: str | Path) -> Attachment:
    """Read and check one file. Raises AttachmentError (one line naming the file) for a missing,
    unreadable, too large, corrupt, encrypted, binary-as-text, SVG or misnamed file."""
    p = Path(path)
    shown = str(path)
    try:
        if p.is_dir():
            raise AttachmentError(f"{shown}: is a folder, not a file")
        size = p.stat().st_size
        if size > MAX_FILE_BYTES:
            raise AttachmentError(f"{shown}: {human_size(size)} is larger than the {human_size(MAX_FILE_BYTES)} "
                                  "any provider accepts")
        data = p.read_bytes()
    except FileNotFoundError:
        raise AttachmentError(f"{shown}: no such file") from None
    except PermissionError:
        raise AttachmentError(f"{shown}: cannot be read (permission denied)") from None
    except OSError as exc:
        raise AttachmentError(f"{shown}: cannot be read ({exc.strerror or exc})") from None
    return attachment_from_bytes(p.name, data, shown=shown)


def attachment_from_bytes(name: str, data: bytes, *, shown: str | None = None) -> Attachment:
    """Check bytes that came from somewhere else (a pasted image, an import). `name` is the file name
    the models see; `shown` names the file in errors (default: `name`)."""
    shown = shown or name
    # the name goes into prompts (a fenced block's heading), exports and errors: one line, no controls
    name = re.sub(r"[\x00-\x1f\x7f\u2028\u2029]", "_", Path(name).name).strip() or "file"
    if len(data) > MAX_FILE_BYTES:
        raise AttachmentError(f"{shown}: {human_size(len(data))} is larger than the "
                              f"{human_size(MAX_FILE_BYTES)} any provider accepts")
    if not data:
        raise AttachmentError(f"{shown}: the file is empty")
    ext = Path(name).suffix.lower()
    if ext in _UNSUPPORTED_EXT:
        raise AttachmentError(f"{shown}: {_UNSUPPORTED_EXT[ext]} cannot be attached "
                              "(images PNG, JPEG, WebP, GIF; PDF; UTF-8 text files)")
    sniffed = sniff(data)
    expected = _EXT_KIND.get(ext)
    if sniffed == "svg" or expected == "svg":
        raise AttachmentError(f"{shown}: SVG images are not accepted (they can carry scripts): "
                              "export it as PNG first")
    if expected is None and ext and sniffed in _LABEL:
        raise AttachmentError(f"{shown}: its name says a {ext} file but its content is {_LABEL[sniffed]}: "
                              f"rename it to end in .{'jpg' if sniffed == 'jpeg' else sniffed}")
    if expected is not None and sniffed != expected:
        found = f"its content is {_LABEL[sniffed]}" if sniffed in _LABEL else "its content is not"
        raise AttachmentError(f"{shown}: not a valid {_LABEL[expected]} file ({found})")
    if sniffed in IMAGE_MIMES:
        width, height = image_size(sniffed, data, shown)
        return Attachment(name, "image", IMAGE_MIMES[sniffed], data, width=width, height=height)
    if sniffed == "pdf":
        return Attachment(name, "pdf", PDF_MIME, data, pages=pdf_pages(data, shown))
    _check_text(data, shown)
    return Attachment(name, "text", _text_mime(name), data)


def sniff(data: bytes) -> str | None:
    """The format the bytes are, from their magic numbers: png jpeg webp gif pdf svg, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if b"%PDF-" in data[:1024]:
        return "pdf"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"\x1f\x8b") and b"svg" in head[:64]:
        return "svg"
    if re.search(rb"<svg[\s>]", head) and (head.startswith(b"<?xml") or head.startswith(b"<svg")
                                           or head.startswith(b"<!doctype svg") or head.startswith(b"<!--")):
        return "svg"
    return None


def _text_mime(name: str) -> str:
    ext = Path(name).suffix.lower()
    return {".md": "text/markdown", ".markdown": "text/markdown", ".csv": "text/csv", ".json": "application/json",
            ".html": "text/html", ".htm": "text/html", ".xml": "application/xml"}.get(ext, "text/plain")


def _check_text(data: bytes, shown: str) -> None:
    if b"\x00" in data:
        raise AttachmentError(f"{shown}: a binary file, not text (images PNG, JPEG, WebP, GIF; PDF; UTF-8 text)")
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AttachmentError(f"{shown}: not UTF-8 text (invalid byte at offset {exc.start}); "
                              "save it as UTF-8 or attach it as PDF") from None


# --------------------------------------------------------------------------------------------- images
def image_size(fmt: str, data: bytes, shown: str) -> tuple[int, int]:
    """(width, height) from the image's own header, checking its structure; AttachmentError if corrupt."""
    try:
        width, height = {"png": _png_size, "jpeg": _jpeg_size, "gif": _gif_size, "webp": _webp_size}[fmt](data)
    except (struct.error, IndexError, ValueError) as exc:
        raise AttachmentError(f"{shown}: a corrupt {_LABEL[fmt]} image ({exc or 'truncated'})") from None
    if width <= 0 or height <= 0:
        raise AttachmentError(f"{shown}: a corrupt {_LABEL[fmt]} image (size {width}×{height})")
    return width, height


def _png_size(data: bytes) -> tuple[int, int]:
    pos = 8
    width = height = 0
    seen_ihdr = seen_idat = False
    while True:
        if pos + 8 > len(data):
            raise ValueError("truncated: no IEND chunk")
        length, ctype = struct.unpack(">I4s", data[pos:pos + 8])
        end = pos + 8 + length + 4
        if end > len(data):
            raise ValueError(f"truncated inside the {ctype.decode('latin-1')} chunk")
        body = data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:end])
        if zlib.crc32(ctype + body) & 0xFFFFFFFF != crc:
            raise ValueError(f"bad checksum in the {ctype.decode('latin-1')} chunk")
        if not seen_ihdr:
            if ctype != b"IHDR" or length != 13:
                raise ValueError("no IHDR header")
            width, height = struct.unpack(">II", body[:8])
            seen_ihdr = True
        elif ctype == b"IDAT":
            seen_idat = True
        elif ctype == b"IEND":
            break
        pos = end
    if not seen_idat:
        raise ValueError("no image data")
    return width, height


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg_size(data: bytes) -> tuple[int, int]:
    pos = 2
    size: tuple[int, int] | None = None
    while pos < len(data):
        if data[pos] != 0xFF:
            raise ValueError("bad marker")
        while data[pos] == 0xFF:  # fill bytes
            pos += 1
        marker = data[pos]
        pos += 1
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            continue
        if marker == 0xD9:
            raise ValueError("no image data")
        (length,) = struct.unpack(">H", data[pos:pos + 2])
        if length < 2 or pos + length > len(data):
            raise ValueError("truncated")
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[pos + 3:pos + 7])
            size = (width, height)
        if marker == 0xDA:  # start of scan: entropy-coded data follows, ending in EOI
            if size is None:
                raise ValueError("no frame header")
            if data.rfind(b"\xff\xd9", pos + length) < 0:
                raise ValueError("truncated: no end-of-image marker")
            return size
        pos += length
    raise ValueError("truncated")


def _gif_size(data: bytes) -> tuple[int, int]:
    width, height = struct.unpack("<HH", data[6:10])
    if len(data) < 14 or data.rstrip(b"\x00")[-1:] != b";":
        raise ValueError("truncated: no GIF trailer")
    return width, height


def _webp_size(data: bytes) -> tuple[int, int]:
    (riff_size,) = struct.unpack("<I", data[4:8])
    if riff_size + 8 > len(data) or len(data) < 30:
        raise ValueError("truncated")
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = 1 + int.from_bytes(data[24:27], "little")
        height = 1 + int.from_bytes(data[27:30], "little")
        return width, height
    if chunk == b"VP8 ":
        if data[23:26] != b"\x9d\x01\x2a":
            raise ValueError("bad VP8 frame")
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        if data[20] != 0x2F:
            raise ValueError("bad VP8L signature")
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    raise ValueError(f"unknown chunk {chunk!r}")


# ----------------------------------------------------------------------------------------------- PDFs
def _pdf_reader(data: bytes) -> Any:
    from pypdf import PdfReader  # imported when the first PDF is attached

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    return PdfReader(io.BytesIO(data), strict=False)


def pdf_pages(data: bytes, shown: str) -> int:
    """The page count; AttachmentError for an encrypted or corrupt PDF."""
    try:
        reader = _pdf_reader(data)
        if reader.is_encrypted:
            raise AttachmentError(f"{shown}: the PDF is encrypted (password-protected); save an unlocked copy")
        pages = len(reader.pages)
    except AttachmentError:
        raise
    except Exception as exc:  # pypdf raises many types for damaged files
        raise AttachmentError(f"{shown}: a corrupt PDF ({type(exc).__name__}: {str(exc)[:80]})") from None
    if pages <= 0:
        raise AttachmentError(f"{shown}: a corrupt PDF (no pages)")
    return pages


@lru_cache(maxsize=32)
def _pdf_text_cached(sha256: str, data: bytes) -> str:
    reader = _pdf_reader(data)
    parts = []
    for i, page in enumerate(reader.pages, 1):
        try:
            text = page.extract_text() or ""
        except Exception as exc:  # one bad page does not lose the others
            log.warning("PDF text extraction failed on page %d: %s", i, exc)
            text = ""
        parts.append(f"[page {i}]\n{text.strip()}")
    return "\n\n".join(parts)


def pdf_text(att: Attachment) -> str:
    """The PDF's text, page by page (`[page N]` headings), for a model that cannot read PDFs."""
    return _pdf_text_cached(att.sha256, att.data)


# ------------------------------------------------------------------------------------- per-model view
def fenced(title: str, body: str) -> str:
    """`body` in a fenced block headed by `title`; the fence is longer than any backtick run inside."""
    longest = max((len(m) for m in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{title}\n{fence}\n{body.rstrip(chr(10))}\n{fence}"


def inline_block(att: Attachment) -> str:
    """How a text file (or a PDF's extracted text) appears in the user text."""
    if att.kind == "pdf":
        n = att.pages or 0
        return fenced(f"File: {att.name} (text extracted from a {n}-page PDF)", pdf_text(att))
    return fenced(f"File: {att.name}", att.text())


def adapt_messages(messages: Sequence[Message], inputs: Iterable[str], model: str) -> list[Message]:
    """The messages as `model` (which takes `inputs`) receives them: text files inlined ahead of the
    turn's text; PDFs kept or replaced by their text; images kept, or UnsupportedInput naming the model
    and the file. Deterministic, so a follow-up re-sends every file byte-identically."""
    takes = set(inputs)
    out: list[Message] = []
    for m in messages:
        if not m.attachments:
            out.append(m)
            continue
        kept: list[Attachment] = []
        blocks: list[str] = []
        for att in m.attachments:
            if att.kind == "text":
                blocks.append(inline_block(att))
            elif att.kind == "pdf" and "pdf" not in takes:
                blocks.append(inline_block(att))
            elif att.kind == "image" and "image" not in takes:
                raise UnsupportedInput(f"{model} cannot read images: {att.name} was not sent "
                                       "(choose a model that takes images, or remove the file)")
            else:
                kept.append(att)
        content = "\n\n".join([*blocks, m.content] if m.content.strip() else blocks)
        out.append(replace(m, content=content, attachments=tuple(kept)))
    return out


# ---------------------------------------------------------------------------------------------- limits
@dataclass(frozen=True, slots=True)
class Limits:
    """A provider's documented limits (resources/attachment_limits.toml); None = none documented."""

    name: str
    image_max_bytes: int | None = None
    image_b64: bool = False  # image_max_bytes counts the base64 text, not the file
    image_max_side: int | None = None
    image_max_side_many: int | None = None
    many_images: int | None = None
    max_images: int | None = None
    pdf_max_bytes: int | None = None
    pdf_max_pages: int | None = None
    request_max_bytes: int | None = None
    image_tokens: str = "tiles"  # token formula: "anthropic" | "tiles"
    pdf_page_tokens: int = 1500


@lru_cache(maxsize=1)
def _limits_data() -> dict[str, Any]:
    text = resources.files("resources").joinpath("attachment_limits.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def limits_for(provider: str, protocol: str | None = None) -> Limits:
    """The limits of a provider id, else of its wire protocol (anthropic → Anthropic's, responses →
    OpenAI's), else the `default` table."""
    data = _limits_data()
    key = provider if provider in data else {"anthropic": "anthropic", "responses": "openai"}.get(protocol or "", "default")
    table = {k: v for k, v in data.get(key, {}).items() if k in Limits.__dataclass_fields__}
    return Limits(name=key, **table)


def _b64_len(n: int) -> int:
    return 4 * math.ceil(n / 3)


def check_limits(messages: Sequence[Message], limits: Limits, model: str) -> None:
    """AttachmentError naming the file and the limit when what goes to `model` exceeds a documented
    limit. Counts every file the request carries (earlier turns too)."""
    atts = [a for m in messages for a in m.attachments]
    images = [a for a in atts if a.kind == "image"]
    where = f"{model} ({limits.name} limit)"
    if limits.max_images is not None and len(images) > limits.max_images:
        raise AttachmentError(f"{images[limits.max_images].name}: more than {limits.max_images} images in one "
                              f"request to {where}")
    side = limits.image_max_side
    if limits.many_images is not None and len(images) > limits.many_images and limits.image_max_side_many:
        side = limits.image_max_side_many
    for a in images:
        if limits.image_max_bytes is not None:
            n = _b64_len(a.size) if limits.image_b64 else a.size
            if n > limits.image_max_bytes:
                what = "base64-encoded " if limits.image_b64 else ""
                raise AttachmentError(f"{a.name}: {human_size(n)} {what}is more than the "
                                      f"{human_size(limits.image_max_bytes)} per image that {where} accepts")
        if side is not None and max(a.width or 0, a.height or 0) > side:
            many = f" when a request has more than {limits.many_images} images" if side != limits.image_max_side else ""
            raise AttachmentError(f"{a.name}: {a.width}×{a.height} px is larger than {side}×{side} px, the "
                                  f"most {where} accepts{many}")
    pdfs = [a for a in atts if a.kind == "pdf"]
    for a in pdfs:
        if limits.pdf_max_bytes is not None and a.size > limits.pdf_max_bytes:
            raise AttachmentError(f"{a.name}: {human_size(a.size)} is more than the {human_size(limits.pdf_max_bytes)} "
                                  f"per PDF that {where} accepts")
    if limits.pdf_max_pages is not None:
        total = 0
        for a in pdfs:
            total += a.pages or 0
            if total > limits.pdf_max_pages:
                raise AttachmentError(f"{a.name}: {total} PDF pages in one request is more than the "
                                      f"{limits.pdf_max_pages} that {where} accepts")
    if limits.request_max_bytes is not None:
        total = sum(len(m.content.encode("utf-8")) for m in messages)
        for a in atts:
            total += _b64_len(a.size)
            if total > limits.request_max_bytes:
                raise AttachmentError(f"{a.name}: the request would be about {human_size(total)}, more than "
                                      f"the {human_size(limits.request_max_bytes)} per request that {where} accepts")


# ------------------------------------------------------------------------------------------ estimates
def image_tokens(width: int, height: int, formula: str) -> int:
    """Estimated input tokens of one image.

    anthropic: scaled to fit a 1568-px long edge and ~1.15 megapixels, then width × height / 750.
    tiles (OpenAI high detail): fit 2048×2048, shortest side to 768, then 85 + 170 per 512-px tile.
    """
    w, h = float(width), float(height)
    if formula == "anthropic":
        scale = min(1.0, 1568 / max(w, h), math.sqrt(1_150_000 / (w * h)))
        return max(1, round((w * scale) * (h * scale) / 750))
    scale = min(1.0, 2048 / max(w, h))
    w, h = w * scale, h * scale
    scale = min(1.0, 768 / min(w, h))
    w, h = w * scale, h * scale
    return 85 + 170 * math.ceil(w / 512) * math.ceil(h / 512)


def estimate_attachment_tokens(att: Attachment, limits: Limits) -> int:
    """Tokens a file kept as a file (image or PDF) adds to a request: an estimate."""
    if att.kind == "image" and att.width and att.height:
        return image_tokens(att.width, att.height, limits.image_tokens)
    if att.kind == "pdf":
        return (att.pages or 1) * limits.pdf_page_tokens
    return 0


def merge_attachments(*groups: Sequence[Attachment]) -> tuple[Attachment, ...]:
    return tuple(a for g in groups for a in g)


__all__ = [
    "KINDS",
    "Attachment",
    "AttachmentError",
    "Limits",
    "UnsupportedInput",
    "adapt_messages",
    "attachment_from_bytes",
    "check_limits",
    "estimate_attachment_tokens",
    "image_tokens",
    "inline_block",
    "limits_for",
    "load_attachment",
    "pdf_text",
    "sniff",
]
