"""Tests of the deployment: Kubernetes manifests, container images, alerts and dashboards."""
