"""The cluster pipeline: the steps its Kubeflow components run, compiling, local runs and submission."""
