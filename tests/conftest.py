import os

# Before Qt is imported anywhere: tests never need a screen.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# numpy's BLAS threads fight torch's for the two cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
