"""MPI-INF-3DHP: layout, files, synthetic copy, studio cameras and the PCK/AUC report."""
