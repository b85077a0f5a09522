"""The pipeline's Kubeflow components, one per stage: lightweight Python components that run in the project image
(`base_image`, no kfp install at run time) and only call rgan.kubeflow.steps, the code the DVC stages run."""


from types import SimpleNamespace

from kfp import dsl

from .evaluate import evaluate
from .prepare import prepare
from .register import register
from .select import select
from .train import train


def build(image: str) -> SimpleNamespace:
    """The components for one image (compile time: the image is a setting, kubeflow.image)."""

    def component(func):
        return dsl.component(func=func, base_image=image, install_kfp_package=False)

    return SimpleNamespace(**{f.__name__: component(f) for f in (prepare, train, evaluate, select, register)})
