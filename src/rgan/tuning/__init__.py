"""`rgan tune`: a search over the recipe on the user's own data, scored on validation windows only."""
