"""Tests of cnngrade itself."""
