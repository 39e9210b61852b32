"""Where papers come from: the arXiv query API (api.py) and announcement feeds (rss.py)."""
