"""The binary package store: content-addressed files, their catalog, and Packages indexes."""
