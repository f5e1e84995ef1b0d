"""Stand-in provider plugins for the real Pulumi engine: see tests/support/README.md, "Provider plugins"."""
