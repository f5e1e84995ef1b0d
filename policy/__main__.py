"""Entry point the Python language host runs for `pulumi preview --policy-pack policy/` (python policy/ <engine>)."""

from guardrails import PACK_NAME, build_policies, install_engine_hooks
from pulumi_policy import EnforcementLevel, PolicyPack

policies = build_policies()
install_engine_hooks(policies)
PolicyPack(
    PACK_NAME,
    policies,
    enforcement_level=EnforcementLevel.ADVISORY,
    description="Container registry guardrails: mandatory on prod* stacks, advisory elsewhere.",
)
