"""Pydantic models shared by the functions."""
