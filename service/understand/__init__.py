"""Understanding stage: map printed labels to schema ids (rule-based matcher now; classifier later)."""
