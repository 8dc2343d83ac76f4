"""Retention: which stored instances nothing needs any more (`binfarm gc`), pins that keep
one whatever the rules say, and the store's usage by profile, package and channel."""
