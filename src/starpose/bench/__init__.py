"""Benchmarks: training and inference throughput beside the published code, windows, overlap, reports."""
