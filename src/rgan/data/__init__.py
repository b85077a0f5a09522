"""Data: the built-in sines dataset, loading user tables, scaling, windowing and the prepare stage."""
