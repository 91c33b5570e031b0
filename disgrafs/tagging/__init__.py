"""Offline tagging: extractors (taggers), where they run (executors), and the queue."""

from .base import FileInfo, Tagger, available_taggers, run_taggers

__all__ = ["FileInfo", "Tagger", "available_taggers", "run_taggers"]
