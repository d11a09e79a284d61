"""The console shows every date-time field of a model in the one wording of
core/display.py (Django formats model fields through the locale's
DATETIME_FORMAT: this overrides English's "Dec. 1, 2026, 7:04 a.m.")."""

from core.display import DATETIME_FORMAT  # noqa: F401  (read by Django by name)
