"""Synthetic training corpus for the token classifier (issue 4).

* ``types``    — the training-example contract (``SynthDoc``, ``Fact``)
* ``agencies`` — agency names at every administrative level
* ``report``   — whole synthetic reports: title, headings, narrative, tables 2/3/4 with every cell labelled
* ``noise``    — OCR-like corruption of characters and of table layout, labels kept right
"""
