"""Robustness variants of the dev reports (issue 13): seeded perturbations whose hand-checked truth is unchanged.

``generate(rendering, family, seed)`` in :mod:`datasets.robustness.generate`; the data card is ``README.md``.
"""
