"""rolechat's speed-and-capacity benchmark (`python -m bench`; see bench/run.py)."""
