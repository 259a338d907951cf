"""Kubernetes manifests: the generator of what derives from the code, and the kustomize tree it writes into."""
