"""Images: a root filesystem for a profile, assembled on any machine with Portage from the
farm's binaries only (assemble), packed as a directory, a reproducible tar or an OCI
layout (pack), and put in place whole (service)."""
