"""Ranking against constraints (rank.py), charts (plots.py) and the HTML report (html.py)."""
