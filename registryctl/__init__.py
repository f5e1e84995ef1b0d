"""registryctl: drive the registries program through the Pulumi Automation API."""
