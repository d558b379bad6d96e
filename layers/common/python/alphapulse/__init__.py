"""Shared code for every AlphaPulse dashboard function (the common Lambda layer)."""
