"""Markdown backend: PDF-to-Markdown extractions and hand-written Markdown reports.

It reads with the plain-text line machinery (``service.ingest.text.LineReader``; the rules
are in that module's docstring) plus these Markdown rules:

* ``#`` heading markers and ``**``/``__`` emphasis are removed before a line is classified,
  so ``## 三、收到和处理政府信息公开申请情况`` is a section heading and ``## 表三：…``
  inside sections 二/三/四 is a dropped table title;
* consecutive non-blank lines outside tables are one paragraph (Markdown's paragraph rule):
  wrapped PDF lines are joined without a space between CJK characters;
* pipe tables: ``|---|`` separator rows dropped, the empty strings outside the outer pipes
  dropped, interior blank cells kept as "", ``**`` emphasis removed from cell text.

``Document.kind == "markdown"``; provenance as for text (``origin=Origin.TEXT``, ``line``).
"""

from __future__ import annotations

import re
from pathlib import Path

from service.document import Document
from service.ingest.base import Backend, looks_binary
from service.ingest.text import foreign_format, read_text_document
from service.options import PipelineOptions

_EXTENSIONS = frozenset({".md", ".markdown", ".mdown", ".mkd"})
_PIPE_SEPARATOR_LINE = re.compile(rb"^\s*\|?\s*:?-{3,}:?\s*\|", re.M)
_HASH_HEADING_LINE = re.compile(rb"^\s{0,3}#{1,6}\s+\S", re.M)


class MarkdownBackend(Backend):
    name = "markdown"

    @classmethod
    def accepts(cls, path: Path, head: bytes) -> bool:
        if looks_binary(head) or foreign_format(head):
            return False
        if path.suffix.lower() in _EXTENSIONS:
            return True
        return bool(_PIPE_SEPARATOR_LINE.search(head) and _HASH_HEADING_LINE.search(head))

    def convert(self, path: Path, data: bytes, options: PipelineOptions | None = None) -> Document:
        return read_text_document(path, data, self.name, markdown=True, options=options)
