"""The mapping layer: one module per registry kind turns the validated spec into its component's Args."""
