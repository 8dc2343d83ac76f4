"""The HTTP server: the API, the binhost and the distfiles mirror over one Farm."""
