"""Deployment of the platform: container images (docker/) and Kubernetes manifests (k8s/)."""
