"""registries: one Pulumi program, a stack config per environment (stacks/Pulumi.<stack>.yaml)."""

from registries.program import pulumi_program

pulumi_program()
