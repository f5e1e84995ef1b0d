"""Dynamic providers for what pulumi-azure-native 3 cannot declare on Azure Container Registry."""
