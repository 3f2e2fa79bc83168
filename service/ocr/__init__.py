"""OCR for scanned reports: engines (PaddleOCR family), table grids from ruling lines, cell reading."""
from service.ocr.base import Crop, OcrChar, OcrEngine, OcrLine, OcrText, OcrUnavailable, get_engine

__all__ = ["Crop", "OcrChar", "OcrEngine", "OcrLine", "OcrText", "OcrUnavailable", "get_engine"]
