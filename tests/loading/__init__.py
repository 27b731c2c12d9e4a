"""Tests of submission loading."""
