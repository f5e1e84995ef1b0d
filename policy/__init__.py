"""The registries guardrails policy pack (`pulumi preview --policy-pack policy/`); see docs/guardrails.md."""
