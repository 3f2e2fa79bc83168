"""xxgk: extraction of China's government-information-disclosure annual reports."""

__version__ = "0.1.0"
PIPELINE_VERSION = "2.4"  # bumped whenever extraction output for the same input may change


def versioned(model_id: str | None) -> str:
    """The pipeline version of a run with the token classifier ``model_id`` (``xxgk.json``'s ``model_id``): the
    shipped model has none and keeps PIPELINE_VERSION itself (results stored before models could be switched stay
    current); a retrained model makes it ``2.4+tagger.<id>``."""
    return f"{PIPELINE_VERSION}+tagger.{model_id}" if model_id else PIPELINE_VERSION
