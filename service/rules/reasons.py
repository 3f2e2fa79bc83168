"""Review reasons one stage writes and a later stage reads (so that neither imports the other for a string)."""

from __future__ import annotations

# a cell of a row whose label the two readers (matcher, classifier) read apart; assembly writes it with the
# mapping score as the cell's confidence, reconciliation reads it to weigh the mapping into the confidence
DISAGREEMENT = "row label read differently"
