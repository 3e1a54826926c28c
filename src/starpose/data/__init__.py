"""Data: file formats, cameras, skeletons, sequence windows and the synthetic generator."""
