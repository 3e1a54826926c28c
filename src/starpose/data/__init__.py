"""Generic data parts: cameras, skeletons, sequence windows, flips, safe file reading, the
frozen dataset description and the synthetic motion generator (``synth/``)."""
