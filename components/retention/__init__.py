"""Retention: one rule set (the intent), its evaluator, and per platform a simulator of the platform's
native policy document and a compiler intent -> native document. Pure functions; no Pulumi, no registries.config."""
