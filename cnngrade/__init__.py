"""cnngrade: a pytest-based grading and conformance harness for a PyTorch CNN lab."""

__version__ = "0.1.0"
