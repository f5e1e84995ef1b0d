"""Pulumi dynamic providers of our own, for APIs that have no Pulumi provider."""
