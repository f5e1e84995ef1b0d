"""A self-hosted CNCF distribution registry on a Kubernetes cluster: the KubernetesRegistry component.

Modules: args (KubernetesRegistryArgs, the analyzer's inputs), settings (defaults, replica counts, the Docker-shaped
args both targets render config.yml from, validate_kubernetes_args; no provider SDK), objects (labels, metadata,
security contexts, the config volume: the Placement every piece declares from), workload (Deployment, claim),
network (Ingress, NetworkPolicies), redis (the optional cache), gc (the garbage-collection CronJob and its script),
registry (the component). Library users import components.kubernetes_registry, which re-exports the public names;
this package imports nothing itself, so its plain modules (args, settings) load without pulumi-kubernetes."""
