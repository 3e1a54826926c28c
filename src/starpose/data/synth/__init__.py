"""The synthetic motion generator's parts: bodies, kinematics, motion, detector noise, file writing."""
