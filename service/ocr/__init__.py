"""OCR for scanned pages: engines (PaddleOCR family, ``base``, ``recognizer``), a page made upright and level
(``orient``, ``deskew``), ruling lines in the ink and the bitmap-only refinements of table grids (``grid``), cells
read from their own crops (``read_cells``). The page stage that runs them is ``service.pages.recognize``."""

from service.ocr.base import Crop, OcrChar, OcrEngine, OcrLine, OcrText, OcrUnavailable, get_engine

__all__ = ["Crop", "OcrChar", "OcrEngine", "OcrLine", "OcrText", "OcrUnavailable", "get_engine"]
