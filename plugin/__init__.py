"""The `registries` component provider (a source-based Pulumi plugin): see plugin/provider.py."""
