"""Understanding stage: the token classifier (classifier.py, models/tagger) and the rule-based matcher
it is cross-checked with."""
