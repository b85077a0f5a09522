"""rgan: recurrent GANs for multivariate time series."""

__version__ = "0.1.0"
