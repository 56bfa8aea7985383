"""Analysts' corrections: stored by the API, merged by the next training run."""
