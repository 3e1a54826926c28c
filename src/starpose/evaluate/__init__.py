"""Evaluation: the published and clean protocols (protocol.py) and their report tables (report.py)."""
