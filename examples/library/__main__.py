"""A Pulumi program that is not ours, using SelfHostedRegistry as a library.

Its hostname and its user's password come from other resources' outputs (a RandomPet and a RandomPassword),
as they would from a DNS record or a secret store; the component takes them as Inputs. Run it with
`pulumi up` in this directory after `pip install -e ../..` (README: "Using the components as a library").
"""

from typing import Any

import pulumi
import pulumi_random as random

from components.selfhosted import SelfHostedRegistry, SelfHostedRegistryArgs, SelfHostedTlsMode

USER = "ci"


def library_program() -> dict[str, Any]:
    """Declare the registry; returns the stack outputs."""
    config = pulumi.Config()
    port = config.get_int("port") or 5443
    # A name under .localhost: loopback by RFC 6761 (systemd-resolved, browsers; an /etc/hosts line elsewhere).
    pet = random.RandomPet("registry-name", length=2)
    hostname = pulumi.Output.concat(pet.id, ".localhost")
    password = random.RandomPassword("ci-password", length=32, special=False)
    args: SelfHostedRegistryArgs = {
        "hostname": hostname,
        "port": port,
        "bind_address": "127.0.0.1",
        "container_name": config.get("containerName") or "library-registry",
        "tls": {"mode": SelfHostedTlsMode.SELF_SIGNED},
        "users": [{"name": USER, "password": password.result}],
    }
    registry = SelfHostedRegistry("library", args)
    return {
        "endpoint": registry.endpoint,
        "caCertPem": registry.ca_cert_pem,
        "loginCommand": registry.login_command,
        "containerName": registry.container_name,
        "password": pulumi.Output.secret(password.result),
    }


if __name__ == "__main__":
    for key, value in library_program().items():
        pulumi.export(key, value)
