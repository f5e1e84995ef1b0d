"""Names and values Azure Container Registry's ARM API accepts: one definition for the stack spec
(registries.config.acr) and the component's run-time checks (components.acr); no Pulumi import."""

from __future__ import annotations

import re

# ARM name patterns of the api-versions pulumi-azure-native 3 uses (azure-mgmt-containerregistry request builders).
REGISTRY_NAME = re.compile(r"[a-zA-Z0-9]{5,50}")
WEBHOOK_NAME = REGISTRY_NAME
CHILD_NAME = re.compile(r"[a-zA-Z0-9-]{5,50}")  # tokens, cache rules, credential sets
SCOPE_MAP_NAME = re.compile(r"[a-zA-Z0-9_-]{5,50}")
RESOURCE_GROUP = re.compile(r"[-\w._()]{0,89}[-\w_()]")  # 1-90, not ending in a period
LOCATION = re.compile(r"[a-z][a-z0-9]{2,39}")  # westeurope, eastus2, switzerlandnorth
# Repository names: lowercase path components separated by / (the OCI distribution rule ACR applies).
REPOSITORY_NAME = re.compile(r"[a-z0-9]+(?:[._-][a-z0-9]+)*(?:/[a-z0-9]+(?:[._-][a-z0-9]+)*)*")
# Scope map repositories: a repository name, optionally ending in /* (every repository under that namespace).
SCOPE_REPOSITORY = re.compile(REPOSITORY_NAME.pattern + r"(?:/\*)?")
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
# A Key Vault secret identifier: https://<vault>.vault.azure.net/secrets/<name>[/<version>] (any Azure cloud's suffix).
KEY_VAULT_SECRET = re.compile(
    r"https://[a-zA-Z0-9-]{3,24}\.vault\.[a-z0-9.]+/secrets/[a-zA-Z0-9-]{1,127}(/[0-9a-f]{32})?"
)
KEY_VAULT_ID = re.compile(
    r"/subscriptions/[0-9a-fA-F-]{36}/resourceGroups/[-\w._()]{1,90}/providers/Microsoft\.KeyVault/vaults/"
    r"[a-zA-Z0-9-]{3,24}"
)
# A timer trigger's schedule: a 5-field cron expression (ACR Tasks, UTC).
CRON_FIELD = r"[0-9*/,-]+|(?:MON|TUE|WED|THU|FRI|SAT|SUN|Mon|Tue|Wed|Thu|Fri|Sat|Sun)(?:-[A-Za-z]{3})?"
CRON = re.compile(rf"(?:{CRON_FIELD})(?: (?:{CRON_FIELD})){{4}}")
HEADER_NAME = re.compile(r"[A-Za-z0-9-]{1,64}")
