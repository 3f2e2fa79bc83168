"""Assembly: a Document's tables and text -> schema cells, sections and deviations."""

from service.assemble.common import RowRead
from service.assemble.document import Assembly, assemble

__all__ = ["Assembly", "RowRead", "assemble"]
