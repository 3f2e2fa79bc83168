"""Image backend: scanned or photographed reports as PNG, JPEG or TIFF (multi-page TIFF too), read by OCR.

Every image frame is one page (``Document.kind == "image"``, ``Page.origin == "ocr"``, width and height
in pixels of the page turned upright). Frames are decoded with Pillow (EXIF orientation applied,
transparency laid on white, then grayscale) and read by ``service.ocr.page``: orientation, skew, ruled
tables cell by cell, running text; tables continuing over pages are joined. Provenance boxes are in
pixels of the upright page.

The resolution, which sets the OCR's tolerances, is the one the file records when it gives the page a
plausible size (a short side of 4 to 13 inches), else the one that makes the page A4 wide.

metadata: page_count, ocr_engine, image_dpi (per page, as used), turned_pages (pages found lying on
their side or upside down, "2,3"). A file that cannot be decoded raises IngestError naming the file and
Pillow's reason; a missing OCR engine raises IngestError naming what to install.
"""
from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, ImageSequence, UnidentifiedImageError

from service.config import settings
from service.document import Document, Origin, Page
from service.ingest.base import Backend, IngestError, sha256

SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
A4_SHORT_SIDE = 8.27  # inches
PAGE_SHORT_SIDE = (4.0, 13.0)  # inches: recorded resolutions giving pages outside this are ignored
DPI_RANGE = (72.0, 1200.0)


class ImageBackend(Backend):
    name = "image"

    @classmethod
    def accepts(cls, path: Path, head: bytes) -> bool:
        return head.startswith(SIGNATURES) or path.suffix.lower() in EXTENSIONS

    def convert(self, path: Path, data: bytes) -> Document:
        from service.ocr.base import OcrUnavailable, get_engine
        from service.ocr.page import blocks_from_pages, read_page

        frames = _frames(path, data)
        config = settings().ocr
        try:
            engine = get_engine(config.engine, threads=config.threads)
        except OcrUnavailable as exc:
            raise IngestError(path, f"images are read by OCR: {exc}") from exc
        reads = [read_page(image, engine, n, dpi=dpi, scale=1.0) for n, (image, dpi) in enumerate(frames, 1)]
        pages = [Page(number=r.number, width=r.width, height=r.height, origin=Origin.OCR) for r in reads]
        metadata = {
            "page_count": str(len(pages)),
            "ocr_engine": config.engine,
            "image_dpi": ",".join(f"{dpi:g}" for _, dpi in frames),
        }
        turned = [str(r.number) for r in reads if r.turns]
        if turned:
            metadata["turned_pages"] = ",".join(turned)
        return Document(
            path=str(path),
            sha256=sha256(data),
            kind="image",
            pages=pages,
            blocks=blocks_from_pages(reads),
            metadata=metadata,
        )


def _frames(path: Path, data: bytes) -> list[tuple[np.ndarray, float]]:
    """Every frame as a grayscale array with its resolution."""
    try:
        with _strict_decoding(), Image.open(io.BytesIO(data)) as image:
            kind = image.format or "image"
            frames = [_frame(frame) for frame in ImageSequence.Iterator(image)]
    except UnidentifiedImageError as exc:
        raise IngestError(path, "not an image Pillow can read (expected PNG, JPEG or TIFF)") from exc
    except Image.DecompressionBombError as exc:
        raise IngestError(path, f"image too large to read safely ({exc})") from exc
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise IngestError(path, f"corrupt or truncated image ({exc})") from exc
    if not frames:
        raise IngestError(path, f"{kind} file has no image frames")
    return frames


@contextmanager
def _strict_decoding() -> Iterator[None]:
    """Truncated data raise, even where another library told Pillow to fill it in (WeasyPrint does)."""
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _frame(frame: Image.Image) -> tuple[np.ndarray, float]:
    recorded = frame.info.get("dpi")
    image = ImageOps.exif_transpose(frame)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    gray = np.asarray(image.convert("L"), dtype=np.uint8)
    return np.ascontiguousarray(gray), _dpi(recorded, gray.shape)


def _dpi(recorded: object, shape: tuple[int, ...]) -> float:
    """The recorded resolution when it gives a plausible page size, else the one of an A4 page."""
    short = min(shape[:2])
    if isinstance(recorded, tuple) and recorded and isinstance(recorded[0], (int, float)) and recorded[0] > 0:
        dpi = float(recorded[0])
        if PAGE_SHORT_SIDE[0] <= short / dpi <= PAGE_SHORT_SIDE[1]:
            return float(round(dpi))
    low, high = DPI_RANGE
    return float(round(min(max(short / A4_SHORT_SIDE, low), high)))
