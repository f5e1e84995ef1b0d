"""A registry kind's `signing:` block -> SigningKeysArgs (the mapping layer between the config and the component)."""

from __future__ import annotations

import pulumi

from components.signing import SigningKeysArgs
from registries.config.signing import SigningSpec


def signing_args(spec: SigningSpec, registry: pulumi.Input[str], output_path: str) -> SigningKeysArgs:
    """SigningKeys' args of a validated `signing:` block: `registry` names the images in the commands,
    `output_path` is where the program exports the outputs (e.g. 'signing.selfHosted')."""
    args: SigningKeysArgs = {"registry": registry, "output_path": output_path}
    if spec.cosign is not None:
        cosign = spec.cosign
        args["cosign"] = {}
        if cosign.private_key is not None and cosign.public_key is not None:
            args["cosign"] = {
                "private_key_pem": pulumi.Output.secret(cosign.private_key.get_secret_value()),
                "public_key_pem": cosign.public_key,
            }
    if spec.notation is not None:
        n = spec.notation
        if n.private_key is not None and n.certificate_chain is not None and n.ca_certificate is not None:
            args["notation"] = {
                "private_key_pem": pulumi.Output.secret(n.private_key.get_secret_value()),
                "certificate_chain_pem": n.certificate_chain,
                "ca_certificate_pem": n.ca_certificate,
            }
        else:
            args["notation"] = {"validity_hours": n.validity_hours, "ca_validity_hours": n.ca_validity_hours}
            if n.common_name is not None:
                args["notation"]["common_name"] = n.common_name
            if n.organization is not None:
                args["notation"]["organization"] = n.organization
    return args
