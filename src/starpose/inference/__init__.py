"""Inference: window predictors (PyTorch, ONNX Runtime), overlapping-window lifting, CPU features."""
