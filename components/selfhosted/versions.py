"""The registry images the program pins: the one place that names the distribution versions."""

from __future__ import annotations

DISTRIBUTION_3_VERSION = "3.1.2"
"""Distribution 3 release of the default image: the newest the Go module proxy serves
(github.com/distribution/distribution/v3: v3.0.0, v3.1.1, v3.1.2) that builds here."""
REGISTRY_3_IMAGE = f"registry:{DISTRIBUTION_3_VERSION}"
"""The default registry image (Docker and Kubernetes platforms)."""
REGISTRY_2_IMAGE = "registry:2.8.3"
"""The last distribution 2 image (maintenance only): stacks that pin it keep it."""
DEFAULT_IMAGE = REGISTRY_3_IMAGE
