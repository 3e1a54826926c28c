"""HumanEva-I: the 15-joint layout, cameras, files and the synthetic copy."""
