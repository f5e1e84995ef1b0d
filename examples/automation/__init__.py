"""Automation API examples: importable functions, not shell scripts."""
