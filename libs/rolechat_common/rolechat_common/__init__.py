"""Code that more than one rolechat service needs, kept in one place."""
