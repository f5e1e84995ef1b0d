"""Examples of driving the registries program."""
