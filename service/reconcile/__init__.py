"""Reconciliation: OCR readings chosen under the table rules (``solver``: candidates from ``candidates``, the rules'
CP-SAT model of ``service.rules``), one calibrated confidence per cell and the review flags (``repair``); checks
across the reports of one agency (``cross``) and of the narrative against the tables (``text_checks``)."""
