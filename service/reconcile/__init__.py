"""Reconciliation: table rules (checks) now; repair, confidence and review flags later."""
