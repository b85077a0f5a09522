"""Kubeflow pipelines built from components/: `rgan pipeline compile | run-local | submit` use them."""
