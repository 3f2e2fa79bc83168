"""Image backend: scanned or photographed reports as PNG, JPEG or TIFF (multi-page TIFF too), as page bitmaps.

Every image frame is one page (``Document.kind == "image"``, ``Page.origin == "ocr"``): a ``PageContent`` with
no text layer whose bitmap is the frame decoded by Pillow (EXIF orientation applied, transparency laid on
white; grayscale frames as grayscale, colour frames in colour, BGR as OpenCV orders it, for the OCR stage drops
red seals by colour), in pixels (``scale`` 1: provenance boxes are pixels of the page turned upright). The
page stages read it as they read a scanned PDF page (``service.pages``: the OCR stage for orientation, skew,
ruled tables cell by cell and running text; layout; composition, tables continuing over pages joined).

The resolution, which sets the OCR's tolerances, is the one the file records when it gives the page a
plausible size (a short side of 4 to 13 inches), else the one that makes the page A4 wide.

metadata: page_count, ocr_engine, image_dpi (per page, as used), turned_pages (pages found lying on
their side or upside down, "2,3"). A file that cannot be decoded raises IngestError naming the file and
Pillow's reason; a missing OCR engine raises IngestError naming what to install.
"""

from __future__ import annotations

import functools
import io
import re
from collections.abc import Iterator
from contextlib import contextmanager
from numbers import Real
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, ImageSequence, UnidentifiedImageError

from service.ingest.base import IngestError, LimitExceeded, PagedBackend
from service.options import LimitsOptions, PipelineOptions
from service.pages import PageContent, Unit

SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")
EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".tif", ".tiff"})
A4_SHORT_SIDE = 8.27  # inches
PAGE_SHORT_SIDE = (4.0, 13.0)  # inches: recorded resolutions giving pages outside this are ignored
DPI_RANGE = (72.0, 1200.0)
GRAY_MODES = frozenset({"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"})  # Pillow modes without colour


class ImageBackend(PagedBackend):
    name = "image"
    ocr_needed_for = "images"

    @classmethod
    def accepts(cls, path: Path, head: bytes) -> bool:
        return head.startswith(SIGNATURES) or path.suffix.lower() in EXTENSIONS

    def read_pages(self, path: Path, data: bytes, options: PipelineOptions) -> tuple[list[PageContent], dict[str, str]]:
        frames = _frames(path, data, options.limits)
        several = len(frames) > 1
        pages = []
        for n, (image, dpi) in enumerate(frames, 1):
            height, width = image.shape[:2]
            page = PageContent(n, width, height, Unit.PIXEL, 1.0, has_text_layer=False, bitmap=image, dpi=dpi)
            if several:  # decoded again when the OCR stage reaches it and dropped once read: one frame in memory
                page.bitmap = None
                page.render = functools.partial(_decode_frame, path, data, n - 1)
            pages.append(page)
        metadata = {
            "page_count": str(len(pages)),
            "ocr_engine": options.ocr.engine,
            "image_dpi": ",".join(f"{dpi:g}" for _, dpi in frames),
        }
        return pages, metadata


def _frames(path: Path, data: bytes, limits: LimitsOptions) -> list[tuple[np.ndarray, float]]:
    """Every frame with its resolution, their number and each one's size checked against ``limits`` before it is
    decoded. Each frame is decoded here (a corrupt one is an IngestError now, not halfway through the reading), but
    of a file of several frames only the first frame's pixels are kept (an empty array of the frame's shape stands
    for the others: ``_decode_frame`` decodes them again one at a time), so that a 300-page TIFF never holds more
    than one page."""
    try:
        with _strict_decoding(), Image.open(io.BytesIO(data)) as image:
            kind = image.format or "image"
            count = int(getattr(image, "n_frames", 1))
            if count > limits.max_pages:
                raise LimitExceeded(path, "max_pages", limits.max_pages, f"{count} frames")
            frames = []
            for n, frame in enumerate(ImageSequence.Iterator(image), 1):
                width, height = frame.size
                if width * height > limits.max_page_pixels:
                    raise LimitExceeded(
                        path,
                        "max_page_pixels",
                        limits.max_page_pixels,
                        f"frame {n} is {width} x {height} pixels",
                    )
                pixels, dpi = _frame(frame)
                if n > 1:
                    pixels = np.empty((pixels.shape[0], pixels.shape[1], 0), dtype=np.uint8)  # the shape only
                frames.append((pixels, dpi))
    except UnidentifiedImageError as exc:
        raise IngestError(path, "not an image Pillow can read (expected PNG, JPEG or TIFF)") from exc
    except Image.DecompressionBombError as exc:  # Pillow's own guard, at open: far past ours
        size = re.search(r"\((\d+) pixels\)", str(exc))
        found = f"an image of {size.group(1)} pixels" if size else "an image too large to read safely"
        raise LimitExceeded(path, "max_page_pixels", limits.max_page_pixels, found) from exc
    except (OSError, SyntaxError, ValueError, EOFError, TypeError) as exc:  # TypeError: a TIFF without dimensions
        raise IngestError(path, f"corrupt or truncated image ({exc})") from exc
    if not frames:
        raise IngestError(path, f"{kind} file has no image frames")
    return frames


def _decode_frame(path: Path, data: bytes, index: int) -> np.ndarray:
    """Frame ``index`` (from 0) decoded again, when the OCR stage reaches its page."""
    try:
        with _strict_decoding(), Image.open(io.BytesIO(data)) as image:
            image.seek(index)
            return _frame(image)[0]
    except (OSError, SyntaxError, ValueError, EOFError, TypeError) as exc:
        raise IngestError(path, f"cannot decode image frame {index + 1} ({exc})") from exc


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
    if image.mode in GRAY_MODES:
        pixels = np.asarray(image.convert("L"), dtype=np.uint8)
    else:
        pixels = np.asarray(image.convert("RGB"), dtype=np.uint8)[:, :, ::-1]  # BGR
    return np.ascontiguousarray(pixels), _dpi(recorded, pixels.shape)


def _dpi(recorded: object, shape: tuple[int, ...]) -> float:
    """The recorded resolution when it gives a plausible page size, else the one of an A4 page."""
    short = min(shape[:2])
    # TIFF records it as a fraction (PIL's IFDRational): any real number
    if isinstance(recorded, tuple) and recorded and isinstance(recorded[0], Real) and float(recorded[0]) > 0:
        dpi = float(recorded[0])
        if PAGE_SHORT_SIDE[0] <= short / dpi <= PAGE_SHORT_SIDE[1]:
            return float(round(dpi))
    low, high = DPI_RANGE
    return float(round(min(max(short / A4_SHORT_SIDE, low), high)))
