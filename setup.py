"""The wheel's packages. rgan comes from src/; the Kubeflow definitions in pipelines/ and components/ ship beside it
as rgan_pipelines and rgan_components (generic top-level names would collide in site-packages). pyproject.toml's
package discovery cannot rename a directory, hence this file; everything else is in pyproject.toml."""

from setuptools import find_packages, setup

KFP_PACKAGES = {"rgan_pipelines": "pipelines", "rgan_components": "components"}

setup(package_dir={"": "src", **KFP_PACKAGES}, packages=[*find_packages("src"), *KFP_PACKAGES])
