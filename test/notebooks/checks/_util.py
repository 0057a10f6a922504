"""Helpers for the per-chapter result checks."""


def close(a, b, tol):
    return abs(a - b) <= tol
