"""Human3.6M: cameras, subjects, loss weights, VideoPose3D files and the synthetic copy."""
