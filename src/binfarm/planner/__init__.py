"""Fleet planning: what every profile's world needs, how much is shared, what to build."""
