"""Pulumi components, one per registry kind."""
