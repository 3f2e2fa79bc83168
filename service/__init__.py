"""xxgk: extraction of China's government-information-disclosure annual reports."""

__version__ = "0.1.0"
PIPELINE_VERSION = "2.4"  # bumped whenever extraction output for the same input may change
