"""Model builders per architecture family."""
